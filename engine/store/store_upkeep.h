#pragma once

#include <cstdint>

#include "engine/common/error.h"

namespace conveyor::store {

// What a long-running process does beside reading and writing: noticing other writers, and
// checkpointing the write-ahead log while idle.
class StoreUpkeep {
 public:
  virtual ~StoreUpkeep() = default;

  // Copies what was committed since the last checkpoint from the write-ahead log into the
  // database without waiting for readers (SQLite's passive checkpoint), once enough has been
  // written to be worth it. The scheduler calls it when idle, so that the checkpoint SQLite would
  // otherwise run inside a busy commit is done off the hot path. Not after every small write:
  // the first commit after a checkpoint restarts the log and syncs it, and that commit should
  // not be the next burst's first. Returns whether a checkpoint ran.
  virtual Result<bool> CheckpointIfWritten() = 0;

  // Changes whenever another connection commits (SQLite's data_version): how a long-running
  // process notices a CLI's trigger or pause without re-reading everything.
  virtual Result<std::int64_t> DataVersion() = 0;
};

}  // namespace conveyor::store
