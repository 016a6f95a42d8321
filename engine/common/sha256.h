#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace conveyor {

// SHA-256 (OpenSSL's), fed in pieces: what conveyor's cache keys and content fingerprints are.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  // Feeds `bytes` preceded by its length, so that a sequence of fields hashes unambiguously.
  void UpdateField(std::string_view bytes);
  // The digest as 64 lowercase hex digits; the object is spent.
  std::string HexDigest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The hex SHA-256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

}  // namespace conveyor
