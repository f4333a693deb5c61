// The files an import reads: PATH itself, every file under a directory (recursively, in
// name order, hidden entries skipped), and the entries of a .zip archive, read through
// libarchive without extracting anything to disk.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>

#include "core/result.h"

namespace berth::vulndb {

// `name` is relative to the imported root ("osv/npm/GHSA-x.json", "all.zip:GHSA-x.json");
// `content` is the file's text, or why it could not be read (too large, a corrupt archive).
using InputVisitor = std::function<void(const std::string& name, Result<std::string> content)>;

// kNotFound when `root` does not exist; kInvalidParameter when it is neither a regular
// file nor a directory. Problems with single files go to the visitor instead.
Result<void> read_inputs(const std::filesystem::path& root, size_t max_file_bytes, const InputVisitor& visit);

// Whether a file is read as an archive (by its name).
bool is_archive_name(const std::string& name);

}  // namespace berth::vulndb
