#pragma once

#include <vector>

namespace conveyor::operators::drift {

// Sorts finite doubles ascending (as std::sort would, -0.0 before 0.0) by an LSD radix sort on
// their bits, in six passes of 11 bits.
void SortDoubles(std::vector<double>& values);

}  // namespace conveyor::operators::drift
