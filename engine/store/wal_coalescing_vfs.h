#pragma once

// Internal to engine/store: a SQLite VFS that writes a transaction's WAL frames with one write.
//
// SQLite appends each frame to the log as two writes (its 24-byte header, then the page), so a
// commit of n pages costs 2n system calls. This VFS wraps the default one and, for "-wal" files
// only, gathers the frames a transaction appends and writes them in one call (or pieces of up to
// 128 KB) when its commit frame (the one whose header carries the database size) is complete,
// before SQLite publishes the commit to other connections. Only frames appended where the last
// write ended are gathered; anything else on the log (a read, a sync, a truncation, a page or a
// header rewritten in place) writes what was gathered first and then goes through, so the file
// holds exactly what SQLite wrote, in the same order, by the time anyone can look. An error
// writing the frames is returned by the write of the commit frame, as SQLite's own would be.

#include <cstdint>

namespace conveyor::store {

// Registers the VFS (once) and returns its name for sqlite3_open_v2.
const char* WalCoalescingVfs();

// Writes SQLite asked of "-wal" files and writes issued to the files, since the process started.
struct WalWriteCounts {
  std::uint64_t requested = 0;
  std::uint64_t issued = 0;
};
WalWriteCounts CountWalWrites();

}  // namespace conveyor::store
