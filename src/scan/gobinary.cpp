#include "scan/gobinary.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace berth::scan {
namespace {

constexpr size_t kHeaderBytes = 32;
constexpr uint8_t kFlagInline = 2;

// The header is 16-byte aligned in the section (and so in the file) and names a pointer
// size; the same 14 bytes as a string literal elsewhere (cmd/go itself holds one) rarely pass.
bool plausible_header(std::string_view at, uint64_t file_offset) {
  if (file_offset % 16 != 0) return false;
  const auto ptr_size = static_cast<uint8_t>(at[14]);
  const auto flags = static_cast<uint8_t>(at[15]);
  return (ptr_size == 4 || ptr_size == 8) && (flags & ~3u) == 0;
}

std::optional<std::string_view> read_string(std::string_view& in) {
  uint64_t len = 0;
  for (int shift = 0;; shift += 7) {
    if (in.empty() || shift > 63) return std::nullopt;
    const auto b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    len |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) break;
  }
  if (len > in.size()) return std::nullopt;
  auto s = in.substr(0, len);
  in.remove_prefix(len);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    size_t next = s.find(sep, pos);
    out.push_back(s.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (next == std::string_view::npos) return out;
    pos = next + 1;
  }
}

}  // namespace

std::optional<std::string> go_stdlib_version(std::string_view toolchain) {
  toolchain = toolchain.substr(0, toolchain.find(' '));  // "go1.22.0 X:boringcrypto"
  if (!toolchain.starts_with("go1")) return std::nullopt;  // "devel go1.23-abc..." and junk
  std::string_view v = toolchain.substr(2);
  size_t digits_end = 0;
  while (digits_end < v.size() && (std::isdigit(static_cast<unsigned char>(v[digits_end])) || v[digits_end] == '.'))
    ++digits_end;
  std::string core(v.substr(0, digits_end));
  std::string_view pre = v.substr(digits_end);
  if (core.empty() || core.back() == '.') return std::nullopt;
  if (std::count(core.begin(), core.end(), '.') == 1) core += ".0";
  if (pre.empty()) return core;
  size_t num = 0;
  while (num < pre.size() && std::isalpha(static_cast<unsigned char>(pre[num]))) ++num;
  if (num == 0 || num == pre.size()) return std::nullopt;
  return core + "-" + std::string(pre.substr(0, num)) + "." + std::string(pre.substr(num));
}

Extracted parse_go_buildinfo(std::string_view block) {
  Extracted out;
  if (block.size() < kHeaderBytes || !block.starts_with(kGoBuildInfoMagic)) {
    out.unreadable = "Go build info header truncated";
    return out;
  }
  if ((static_cast<uint8_t>(block[15]) & kFlagInline) == 0) {
    out.unreadable = "Go build info predates Go 1.18 (pointer format), not read";
    return out;
  }
  std::string_view rest = block.substr(kHeaderBytes);
  auto toolchain = read_string(rest);
  auto mod = toolchain ? read_string(rest) : std::nullopt;
  if (!toolchain || !mod) {
    out.unreadable = "Go build info strings truncated or malformed";
    return out;
  }
  std::string_view info = *mod;
  // The linker wraps module info in 16-byte sentinels.
  if (info.size() >= 33 && info[info.size() - 17] == '\n') info = info.substr(16, info.size() - 32);
  std::vector<vuln::Package> mods;
  for (auto line : split(info, '\n')) {
    auto f = split(line, '\t');
    if (f.size() < 2) continue;
    if (f[0] == "mod" || f[0] == "dep") {
      if (f.size() < 3 || f[1].empty()) {
        ++out.skipped;
        continue;
      }
      if (f[0] == "mod" && (f[2].empty() || f[2] == "(devel)")) continue;  // unversioned main module
      mods.push_back({.ecosystem = "go", .name = std::string(f[1]), .version = std::string(f[2]),
                      .source_name = {}, .source_version = {}});
    } else if (f[0] == "=>") {
      // A replacement takes the preceding module's place; a local directory (no version)
      // means its code is not any published version, so it cannot be matched.
      if (mods.empty()) continue;
      if (f.size() >= 3 && !f[2].empty()) {
        mods.back().name = std::string(f[1]);
        mods.back().version = std::string(f[2]);
      } else {
        mods.pop_back();
      }
    }
  }
  if (auto v = go_stdlib_version(*toolchain))
    out.packages.push_back({.ecosystem = "go", .name = "stdlib", .version = *v, .source_name = {}, .source_version = {}});
  out.packages.insert(out.packages.end(), mods.begin(), mods.end());
  return out;
}

bool GoBuildInfoScanner::feed(std::string_view chunk) {
  if (found_) {
    block_.append(chunk.substr(0, kMaxBlockBytes - block_.size()));
    return block_.size() < kMaxBlockBytes;
  }
  if (examined_ >= max_examined_) return false;
  chunk = chunk.substr(0, max_examined_ - examined_);
  examined_ += chunk.size();
  window_.append(chunk);
  size_t p = 0;
  while ((p = window_.find(kGoBuildInfoMagic, p)) != std::string::npos) {
    if (p + 16 > window_.size()) break;  // header bytes not here yet: keep from p
    if (plausible_header(std::string_view(window_).substr(p), base_ + p)) {
      found_ = true;
      block_ = window_.substr(p, kMaxBlockBytes);
      window_.clear();
      return block_.size() < kMaxBlockBytes;
    }
    ++p;
  }
  // Keep a tail long enough to hold a magic split across chunks plus its two header bytes.
  size_t keep_from = p != std::string::npos ? p : (window_.size() > 15 ? window_.size() - 15 : 0);
  base_ += keep_from;
  window_.erase(0, keep_from);
  return examined_ < max_examined_;
}

std::optional<Extracted> GoBuildInfoScanner::finish() const {
  if (!found_) return std::nullopt;
  return parse_go_buildinfo(block_);
}

}  // namespace berth::scan
