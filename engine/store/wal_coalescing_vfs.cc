#include "engine/store/wal_coalescing_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <new>
#include <optional>
#include <string>

namespace conveyor::store {

namespace {

constexpr int kFrameHeaderSize = 24;  // SQLite's WAL_FRAME_HDRSIZE
constexpr int kLogHeaderSize = 32;    // SQLite's WAL_HDRSIZE
// The default VFS writes at most this much per call (its seekAndWriteFd masks the size with
// 0x1ffff): a transaction larger than that goes out in pieces below it.
constexpr std::size_t kMaxWrite = 0x1ffff;

std::atomic<std::uint64_t> writes_requested{0};
std::atomic<std::uint64_t> writes_issued{0};

sqlite3_vfs* base_vfs = nullptr;  // set once, before the VFS is registered

// The frames gathered for one log file: a contiguous run of bytes from `offset`.
struct Pending {
  std::string bytes;
  sqlite3_int64 offset = 0;
  // The last thing gathered is a frame header; its page may follow. Set with the header's
  // commit flag (a nonzero database size in bytes 4-7).
  bool header_last = false;
  bool header_commits = false;
  // Where the last write through this handle ended, while nothing but writes happened since:
  // the next frame of a transaction goes there. Other frame headers (SQLite rewrites those of
  // earlier frames to fix checksums, after reading them, and no page follows) are not gathered.
  std::optional<sqlite3_int64> append_at;
};

// Laid out as SQLite sees it: the sqlite3_file it knows, then our state, then the real file
// (the default VFS's, szOsFile bytes) at an aligned offset.
struct LogFile {
  sqlite3_file file;
  Pending* pending;
};
constexpr std::size_t kRealFileOffset = (sizeof(LogFile) + alignof(std::max_align_t) - 1) /
                                        alignof(std::max_align_t) * alignof(std::max_align_t);

sqlite3_file* Real(sqlite3_file* file) {
  return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealFileOffset);
}
Pending& PendingOf(sqlite3_file* file) { return *reinterpret_cast<LogFile*>(file)->pending; }

int Flush(sqlite3_file* file) {
  Pending& pending = PendingOf(file);
  if (pending.bytes.empty()) return SQLITE_OK;
  writes_issued.fetch_add(1, std::memory_order_relaxed);
  sqlite3_file* real = Real(file);
  const int rc = real->pMethods->xWrite(real, pending.bytes.data(),
                                        static_cast<int>(pending.bytes.size()), pending.offset);
  pending.bytes.clear();
  return rc;
}

std::uint32_t BigEndian32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

int WriteThrough(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  writes_issued.fetch_add(1, std::memory_order_relaxed);
  sqlite3_file* real = Real(file);
  return real->pMethods->xWrite(real, data, amount, offset);
}

int LogWrite(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  writes_requested.fetch_add(1, std::memory_order_relaxed);
  Pending& pending = PendingOf(file);
  const bool follows = !pending.bytes.empty() &&
                       offset == pending.offset + static_cast<sqlite3_int64>(pending.bytes.size());
  const bool log_header = amount == kLogHeaderSize && offset == 0;
  const bool frame_header = amount == kFrameHeaderSize &&
                            (follows || (pending.bytes.empty() && offset == pending.append_at));
  const bool page = follows && pending.header_last && amount > kFrameHeaderSize;
  const bool commit = page && pending.header_commits;
  pending.header_last = pending.header_commits = false;
  pending.append_at = offset + amount;
  if (!log_header && !frame_header && !page) {
    // Not a piece of a frame being appended (a page rewritten in place, a header rewritten, a
    // piece split at a sync point): what was gathered goes first, then this, as SQLite wrote them.
    if (int rc = Flush(file); rc != SQLITE_OK) return rc;
    return WriteThrough(file, data, amount, offset);
  }
  if (!pending.bytes.empty() &&
      (!follows || pending.bytes.size() + static_cast<std::size_t>(amount) > kMaxWrite)) {
    if (int rc = Flush(file); rc != SQLITE_OK) return rc;
  }
  if (pending.bytes.empty()) pending.offset = offset;
  pending.bytes.append(static_cast<const char*>(data), static_cast<std::size_t>(amount));
  if (frame_header) {
    pending.header_last = true;
    pending.header_commits = BigEndian32(static_cast<const unsigned char*>(data) + 4) != 0;
  }
  // The commit frame is complete: SQLite publishes the transaction next, so it goes out now.
  return commit ? Flush(file) : SQLITE_OK;
}

int LogClose(sqlite3_file* file) {
  const int flushed = Flush(file);
  sqlite3_file* real = Real(file);
  const int closed = real->pMethods->xClose(real);
  delete reinterpret_cast<LogFile*>(file)->pending;
  return flushed != SQLITE_OK ? flushed : closed;
}

int LogRead(sqlite3_file* file, void* data, int amount, sqlite3_int64 offset) {
  PendingOf(file).append_at.reset();
  if (int rc = Flush(file); rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xRead(Real(file), data, amount, offset);
}
int LogTruncate(sqlite3_file* file, sqlite3_int64 size) {
  PendingOf(file).append_at.reset();
  if (int rc = Flush(file); rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xTruncate(Real(file), size);
}
int LogSync(sqlite3_file* file, int flags) {
  if (int rc = Flush(file); rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xSync(Real(file), flags);
}
int LogFileSize(sqlite3_file* file, sqlite3_int64* size) {
  if (int rc = Flush(file); rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xFileSize(Real(file), size);
}
int LogFileControl(sqlite3_file* file, int op, void* arg) {
  PendingOf(file).append_at.reset();
  if (int rc = Flush(file); rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xFileControl(Real(file), op, arg);
}
int LogLock(sqlite3_file* file, int lock) { return Real(file)->pMethods->xLock(Real(file), lock); }
int LogUnlock(sqlite3_file* file, int lock) {
  return Real(file)->pMethods->xUnlock(Real(file), lock);
}
int LogCheckReservedLock(sqlite3_file* file, int* out) {
  return Real(file)->pMethods->xCheckReservedLock(Real(file), out);
}
int LogSectorSize(sqlite3_file* file) { return Real(file)->pMethods->xSectorSize(Real(file)); }
int LogDeviceCharacteristics(sqlite3_file* file) {
  return Real(file)->pMethods->xDeviceCharacteristics(Real(file));
}

// Version 1 methods: SQLite uses shared memory and memory mapping on the database file only.
constexpr sqlite3_io_methods kLogMethods = {1,
                                            LogClose,
                                            LogRead,
                                            LogWrite,
                                            LogTruncate,
                                            LogSync,
                                            LogFileSize,
                                            LogLock,
                                            LogUnlock,
                                            LogCheckReservedLock,
                                            LogFileControl,
                                            LogSectorSize,
                                            LogDeviceCharacteristics,
                                            nullptr,
                                            nullptr,
                                            nullptr,
                                            nullptr,
                                            nullptr,
                                            nullptr};

int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  // Everything but a log is the default VFS's own file, in the room SQLite gave us.
  if ((flags & SQLITE_OPEN_WAL) == 0)
    return base_vfs->xOpen(base_vfs, name, file, flags, out_flags);
  auto* log = reinterpret_cast<LogFile*>(file);
  log->file.pMethods = nullptr;  // so that SQLite does not close a file that failed to open
  sqlite3_file* real = Real(file);
  const int rc = base_vfs->xOpen(base_vfs, name, real, flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  log->pending = new (std::nothrow) Pending();
  if (log->pending == nullptr) {
    real->pMethods->xClose(real);
    return SQLITE_NOMEM;
  }
  log->file.pMethods = &kLogMethods;
  return SQLITE_OK;
}

// The rest of the VFS is the default one's, called with the default VFS.
int Delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return base_vfs->xDelete(base_vfs, name, sync_dir);
}
int Access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return base_vfs->xAccess(base_vfs, name, flags, out);
}
int FullPathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return base_vfs->xFullPathname(base_vfs, name, size, out);
}
void* DlOpen(sqlite3_vfs*, const char* name) { return base_vfs->xDlOpen(base_vfs, name); }
void DlError(sqlite3_vfs*, int size, char* out) { base_vfs->xDlError(base_vfs, size, out); }
void (*DlSym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return base_vfs->xDlSym(base_vfs, handle, symbol);
}
void DlClose(sqlite3_vfs*, void* handle) { base_vfs->xDlClose(base_vfs, handle); }
int Randomness(sqlite3_vfs*, int size, char* out) {
  return base_vfs->xRandomness(base_vfs, size, out);
}
int Sleep(sqlite3_vfs*, int micros) { return base_vfs->xSleep(base_vfs, micros); }
int CurrentTime(sqlite3_vfs*, double* out) { return base_vfs->xCurrentTime(base_vfs, out); }
int GetLastError(sqlite3_vfs*, int size, char* out) {
  return base_vfs->xGetLastError(base_vfs, size, out);
}
int CurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) {
  return base_vfs->xCurrentTimeInt64(base_vfs, out);
}

}  // namespace

const char* WalCoalescingVfs() {
  static const char* const name = [] {
    static sqlite3_vfs vfs;
    base_vfs = sqlite3_vfs_find(nullptr);
    std::memset(&vfs, 0, sizeof vfs);
    vfs.iVersion = 2;
    vfs.szOsFile = static_cast<int>(kRealFileOffset) + base_vfs->szOsFile;
    vfs.mxPathname = base_vfs->mxPathname;
    vfs.zName = "conveyor-wal-coalescing";
    vfs.xOpen = Open;
    vfs.xDelete = Delete;
    vfs.xAccess = Access;
    vfs.xFullPathname = FullPathname;
    vfs.xDlOpen = DlOpen;
    vfs.xDlError = DlError;
    vfs.xDlSym = DlSym;
    vfs.xDlClose = DlClose;
    vfs.xRandomness = Randomness;
    vfs.xSleep = Sleep;
    vfs.xCurrentTime = CurrentTime;
    vfs.xGetLastError = GetLastError;
    vfs.xCurrentTimeInt64 = CurrentTimeInt64;
    sqlite3_vfs_register(&vfs, 0);
    return vfs.zName;
  }();
  return name;
}

WalWriteCounts CountWalWrites() {
  return {writes_requested.load(std::memory_order_relaxed),
          writes_issued.load(std::memory_order_relaxed)};
}

}  // namespace conveyor::store
