// Small file helpers with Result errors. Stateless; thread-safe.
#pragma once

#include <string>

#include "common/result.h"

namespace taquilla {

Result<std::string> ReadFile(const std::string& path);
// Writes to a temporary file beside `path`, then renames it over `path`.
Status WriteFileAtomic(const std::string& path, const std::string& content);
// mkdir -p with the given mode for directories it creates.
Status MakeDirs(const std::string& path, unsigned mode = 0755);

}  // namespace taquilla
