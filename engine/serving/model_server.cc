#include "engine/serving/model_server.h"

#include <algorithm>
#include <thread>

#include "engine/serving/prediction_log.h"

namespace conveyor::serving {

ModelServer::ModelServer(exec::RegistryOpener open_registry, ServingSettings settings)
    : open_registry_(std::move(open_registry)),
      settings_(std::move(settings)),
      scoring_(static_cast<int>(2 * std::max(1u, std::thread::hardware_concurrency()))) {}

namespace {

// NAME/0042 and NAME/42 are one version: held once, under NAME/42. Empty when the version is not
// a number a registry could hold.
std::string CanonicalReference(const std::string& reference) {
  const size_t slash = reference.find('/');
  if (slash == std::string::npos) return reference;
  const std::string digits = reference.substr(slash + 1);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return "";
  const size_t first = std::min(digits.find_first_not_of('0'), digits.size() - 1);
  if (digits.size() - first > 9) return "";
  return reference.substr(0, slash + 1) + digits.substr(first);
}

}  // namespace

Result<std::shared_ptr<const LoadedModel>> ModelServer::Get(const std::string& requested) {
  const std::string reference = CanonicalReference(requested);
  if (reference.empty()) return NotFound("no such model version: '" + requested + "'");
  const bool is_alias = reference.find('@') != std::string::npos;
  // An alias, or a bare name (its latest version): both move, and are read again once stale.
  const bool moves = reference.find('/') == std::string::npos;
  if (!settings_.models.empty()) {
    // Only the listed aliases, and the versions they name.
    const std::string name = reference.substr(0, reference.find_first_of("@/"));
    const bool listed =
        is_alias ? std::find(settings_.models.begin(), settings_.models.end(), reference) !=
                       settings_.models.end()
                 : std::any_of(settings_.models.begin(), settings_.models.end(),
                               [&](const std::string& m) { return m.rfind(name + "@", 0) == 0; });
    if (!listed) return NotFound("model '" + reference + "' is not served (serving.models)");
  }
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    auto entry = held_.find(reference);
    if (entry != held_.end()) {
      // A version never moves. An alias held fresh, or being read again by another request,
      // answers with what is held.
      if (!moves || now - entry->second.checked < settings_.refresh || entry->second.refreshing) {
        return entry->second.model;
      }
      entry->second.refreshing = true;
      break;
    }
    // Its first request reads the registry and loads the model; the others wait for it
    // rather than load the same model again each.
    if (first_loads_.insert(reference).second) break;
    resolved_.wait(lock);
  }
  lock.unlock();
  Result<std::shared_ptr<const LoadedModel>> resolved = InvalidArgument("");
  try {
    resolved = Resolve(reference);
  } catch (const std::exception& e) {
    // A malformed registry row: an error for this request, and the next one tries again.
    resolved = Error{ErrorCode::kInternal, e.what(), {}};
  }
  lock.lock();
  first_loads_.erase(reference);
  resolved_.notify_all();
  auto entry = held_.find(reference);
  if (!resolved.ok()) {
    if (entry == held_.end()) return resolved.error();
    entry->second.refreshing = false;
    // The alias was removed: it is not served any more.
    if (resolved.error().code == ErrorCode::kNotFound) {
      held_.erase(entry);
      return resolved.error();
    }
    // The registry is unreadable for now: what is held answers, and is read again in a second.
    entry->second.checked = now;
    return entry->second.model;
  }
  held_[reference] = HeldEntry{*resolved, now, false};
  return resolved;
}

bool ModelServer::HasLoaded(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto next = loaded_.lower_bound(name + "/");
  return next != loaded_.end() && next->first.rfind(name + "/", 0) == 0;
}

Result<std::vector<float>> ModelServer::Predict(const std::string& reference,
                                                const std::shared_ptr<const LoadedModel>& model,
                                                const operators::DenseMatrix& rows) {
  Result<std::vector<float>> scores = InvalidArgument("");
  {
    FifoGate::Pass pass(scoring_);
    scores = model->model.Predict(rows);
  }
  if (scores.ok() && log_ != nullptr) log_->Record(reference, model, rows, *scores);
  return scores;
}

Result<std::shared_ptr<const LoadedModel>> ModelServer::Resolve(const std::string& reference) {
  if (!open_registry_) return NotFound("no model registry is configured");
  auto registry = open_registry_();
  if (!registry.ok()) return registry.error();
  auto version = (*registry)->Resolve(reference);
  if (!version.ok()) return version.error();
  const std::string key = version->name + "/" + std::to_string(version->version);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto found = loaded_.find(key); found != loaded_.end()) return found->second;
  }
  auto model = operators::XgbModel::Load(version->artifact_path);
  if (!model.ok()) return model.error();
  // One thread per request: the server's threads are the parallelism.
  if (Status s = model->SetParam("nthread", "1"); !s.ok()) return s.error();
  auto loaded = std::make_shared<const LoadedModel>(
      LoadedModel{version->name, version->version, version->features, std::move(model).value()});
  std::lock_guard<std::mutex> lock(mutex_);
  return loaded_.emplace(key, std::move(loaded)).first->second;
}

}  // namespace conveyor::serving
