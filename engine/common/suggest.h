#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor {

// Edit distance counting an adjacent transposition as one edit (case-sensitive).
int EditDistance(std::string_view a, std::string_view b);

// Words longer than this get no suggestion.
inline constexpr size_t kMaxSuggestedWordLength = 64;

// The candidate closest to `word` when it is a plausible typo (distance at most a third of the
// word's length, at most 3; none for words under 3 letters or over kMaxSuggestedWordLength).
// Ties go to the first.
std::optional<std::string> SuggestSpelling(std::string_view word,
                                           const std::vector<std::string>& candidates);

// ", did you mean 'x'?" or "" when there is no close candidate.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace conveyor
