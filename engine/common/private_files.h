#pragma once

#include <string>

#include "engine/common/error.h"

namespace conveyor {

// Files conveyor creates (databases, logs, outputs, artifacts, launch and token files) are
// readable by their owner only: files are created 0600 and folders 0700, modes the umask can only
// narrow, whatever it is. The process umask itself is left alone: tasks inherit it, and the files
// they write keep it.

// Creates `folder` and any missing parents, each new one 0700.
void MakePrivateFolders(const std::string& folder);
// The folder of `path`, as MakePrivateFolders.
void MakePrivateParent(const std::string& path);
// open(2) with O_CREAT, O_NOFOLLOW and mode 0600. Returns the descriptor or -1 (errno set).
// Creates the parent folder when it is missing.
int OpenPrivate(const std::string& path, int flags);
// Creates `path` empty (0600) if it does not exist.
Status TouchPrivate(const std::string& path);
// Writes `text` to `path` through a 0600 temporary file renamed over it.
Status WritePrivateFile(const std::string& path, const std::string& text);
// Sets 0600 on a file some other code created (a model an library saved).
void MakePrivate(const std::string& path);

}  // namespace conveyor
