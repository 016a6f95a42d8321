#include "engine/common/build_id.h"

#include <elf.h>
#include <link.h>

#include <cstring>

namespace conveyor {
namespace {

std::string ReadBuildId() {
  std::string id;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) -> int {
        // The first object listed is the program itself.
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& header = info->dlpi_phdr[i];
          if (header.p_type != PT_NOTE) continue;
          const auto* at = reinterpret_cast<const char*>(info->dlpi_addr + header.p_vaddr);
          const char* end = at + header.p_memsz;
          while (at + sizeof(ElfW(Nhdr)) <= end) {
            const auto* note = reinterpret_cast<const ElfW(Nhdr)*>(at);
            const char* name = at + sizeof(ElfW(Nhdr));
            const char* desc = name + ((note->n_namesz + 3) & ~3u);
            if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 &&
                std::memcmp(name, "GNU", 4) == 0 && desc + note->n_descsz <= end) {
              static const char kHex[] = "0123456789abcdef";
              auto* hex = static_cast<std::string*>(out);
              for (unsigned b = 0; b < note->n_descsz; ++b) {
                const auto byte = static_cast<unsigned char>(desc[b]);
                hex->push_back(kHex[byte >> 4]);
                hex->push_back(kHex[byte & 15]);
              }
              return 1;
            }
            at = desc + ((note->n_descsz + 3) & ~3u);
          }
        }
        return 1;
      },
      &id);
  return id;
}

}  // namespace

const std::string& BuildId() {
  static const std::string id = ReadBuildId();
  return id;
}

}  // namespace conveyor
