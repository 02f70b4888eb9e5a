#include "common/files.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace taquilla {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return MakeError(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
                     "cannot read {}: {}", path, std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status WriteFileAtomic(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      return MakeError(ErrorCode::kUnavailable, "cannot write {}: {}", tmp, std::strerror(errno));
    out << content;
    if (!out.flush()) return MakeError(ErrorCode::kUnavailable, "cannot write {}", tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return MakeError(ErrorCode::kUnavailable, "cannot rename {}: {}", tmp, ec.message());
  return Ok();
}

Status MakeDirs(const std::string& path, unsigned mode) {
  std::error_code ec;
  std::filesystem::path p(path);
  std::filesystem::path cur;
  for (const auto& part : p) {
    cur /= part;
    if (std::filesystem::exists(cur, ec)) continue;
    std::filesystem::create_directory(cur, ec);
    if (ec)
      return MakeError(ErrorCode::kUnavailable, "cannot create {}: {}", cur.string(), ec.message());
    std::filesystem::permissions(cur, static_cast<std::filesystem::perms>(mode),
                                 std::filesystem::perm_options::replace, ec);
  }
  return Ok();
}

}  // namespace taquilla
