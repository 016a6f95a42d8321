#include "engine/exec/input_fingerprints.h"

#include <sys/stat.h>

#include <fstream>
#include <map>
#include <mutex>
#include <tuple>

#include "engine/common/sha256.h"
#include "engine/exec/data_store.h"

namespace conveyor::exec {
namespace {

struct FileIdentity {
  std::string path;
  dev_t device;
  ino_t inode;
  off_t size;
  std::int64_t modified_ns;
  auto operator<=>(const FileIdentity&) const = default;
};

std::mutex file_mutex;
std::map<FileIdentity, std::string> file_hashes;  // GUARDED_BY(file_mutex)

}  // namespace

std::string FileFingerprint(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return "missing";
  const FileIdentity identity{
      path, info.st_dev, info.st_ino, info.st_size,
      static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec};
  {
    std::lock_guard<std::mutex> lock(file_mutex);
    auto it = file_hashes.find(identity);
    if (it != file_hashes.end()) return it->second;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return "missing";
  Sha256 hash;
  std::string buffer(1 << 16, '\0');
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    hash.Update(std::string_view(buffer.data(), static_cast<size_t>(in.gcount())));
  }
  std::string digest = hash.HexDigest();
  std::lock_guard<std::mutex> lock(file_mutex);
  file_hashes[identity] = digest;
  return digest;
}

Result<nlohmann::json> FingerprintInputs(const OperatorSpec& spec, const nlohmann::json& args,
                                         const std::string& work_dir, const DataAccess& data) {
  nlohmann::json out = nlohmann::json::object();
  std::unique_ptr<DataStore> store;
  const auto open_store = [&]() -> Status {
    if (store) return Status::Ok();
    if (!data.open_data) return NotFound("no data database");
    auto opened = data.open_data(LockWait{});
    if (!opened.ok()) return opened.error();
    store = std::move(opened).value();
    return Status::Ok();
  };
  for (const ArgSpec& arg : spec.args) {
    if (arg.input == InputKind::kNone || !args.contains(arg.name)) continue;
    const nlohmann::json& value = args.at(arg.name);
    if (!value.is_string()) continue;
    const std::string text = value.get<std::string>();
    switch (arg.input) {
      case InputKind::kFile: {
        const bool relative = !text.empty() && text.front() != '/';
        out[arg.name] = FileFingerprint(relative ? work_dir + "/" + text : text);
        break;
      }
      case InputKind::kTable: {
        if (Status s = open_store(); !s.ok()) return s.error();
        auto fingerprint = store->TableFingerprint(text);
        if (!fingerprint.ok()) return fingerprint.error();
        out[arg.name] = *fingerprint;
        break;
      }
      case InputKind::kQuery: {
        if (Status s = open_store(); !s.ok()) return s.error();
        auto fingerprint = store->DataFingerprint();
        if (!fingerprint.ok()) return fingerprint.error();
        out[arg.name] = *fingerprint;
        break;
      }
      case InputKind::kModel: {
        if (!data.open_registry) return NotFound("no model registry");
        auto registry = data.open_registry();
        if (!registry.ok()) return registry.error();
        auto version = (*registry)->Resolve(text);
        if (!version.ok()) return version.error();
        out[arg.name] = version->name + "/" + std::to_string(version->version);
        break;
      }
      case InputKind::kNone:
        break;
    }
  }
  return out;
}

}  // namespace conveyor::exec
