// Events: things other systems may want to react to (an image pushed, new findings for
// an image, an image expired). Each is appended to DATA/events/YYYY-MM-DD.jsonl and handed
// to in-process subscribers (webhooks subscribe here later). Unlike the audit trail,
// events describe what happened to resources, not who asked.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "observe/json_lines.h"

namespace berth::observe {

struct Event {
  std::string type;  // "image.push", "image.delete", "image.expire", "scan.findings", ...
  std::string repository;
  nlohmann::json detail = nlohmann::json::object();
};

class EventSink {
 public:
  static Result<std::unique_ptr<EventSink>> open(const std::filesystem::path& dir, const Clock& clock);

  // Never throws. Subscribers run on the publishing thread: they must be quick.
  void publish(const Event& e) noexcept;
  void subscribe(std::function<void(const nlohmann::json&)> subscriber);

 private:
  EventSink(std::unique_ptr<JsonLinesFile> file, const Clock& clock) : file_(std::move(file)), clock_(clock) {}
  std::unique_ptr<JsonLinesFile> file_;
  const Clock& clock_;
  std::mutex mu_;
  std::vector<std::function<void(const nlohmann::json&)>> subscribers_;
};

}  // namespace berth::observe
