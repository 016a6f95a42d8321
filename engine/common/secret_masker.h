#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace conveyor {

// Airflow's secret masker: every value registered here is replaced by "***" wherever conveyor
// writes text a user can read (task logs, outputs, notes and errors in the event log, API
// answers). Values are registered once at start-up (config `secrets:`), before any task runs;
// reads need no lock afterwards. Values under 4 bytes are not masked: they would mask common
// words.
void RegisterSecrets(const std::vector<std::string>& values);
// The registered values and their JSON-escaped and percent-encoded forms, longest first.
const std::vector<std::string>& MaskedForms();
bool HasSecrets();

// `text` with every registered value replaced by "***".
std::string MaskSecrets(std::string_view text);

// Masks a stream written in chunks (a process's output): a value split across two chunks is
// still masked. Holds back at most the longest form's length minus one byte until the next
// chunk or Finish.
class StreamMasker {
 public:
  // What may be written now.
  std::string Feed(std::string_view chunk);
  // What is left at the end of the stream.
  std::string Finish();

 private:
  std::string pending_;
};

}  // namespace conveyor
