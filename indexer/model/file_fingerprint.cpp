#include "indexer/model/file_fingerprint.h"

#include <xxhash.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "indexer/model/clip_model.h"

namespace imgsearchd {

std::string fingerprint_files(const std::string& salt, const std::vector<std::filesystem::path>& files) {
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(), &XXH3_freeState);
  XXH3_64bits_reset(state.get());
  XXH3_64bits_update(state.get(), salt.data(), salt.size());
  std::vector<char> buffer(4 << 20);
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw ModelError(file.string() + ": cannot open for reading");
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      XXH3_64bits_update(state.get(), buffer.data(), static_cast<size_t>(in.gcount()));
    }
    if (!in.eof()) throw ModelError(file.string() + ": read error while fingerprinting");
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(XXH3_64bits_digest(state.get())));
  return hex;
}

}  // namespace imgsearchd
