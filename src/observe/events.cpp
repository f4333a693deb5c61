#include "observe/events.h"

#include "core/ids.h"
#include "core/log.h"
#include "observe/json_text.h"

namespace berth::observe {

Result<std::unique_ptr<EventSink>> EventSink::open(const std::filesystem::path& dir, const Clock& clock) {
  BERTH_TRY(auto file, JsonLinesFile::open(dir, clock));
  return std::unique_ptr<EventSink>(new EventSink(std::move(file), clock));
}

void EventSink::subscribe(std::function<void(const nlohmann::json&)> subscriber) {
  std::lock_guard lock(mu_);
  subscribers_.push_back(std::move(subscriber));
}

void EventSink::publish(const Event& e) noexcept {
  try {
    const nlohmann::json line = {{"time", iso8601(clock_.now_ms())},
                                 {"eventId", new_uuid()},
                                 {"type", e.type},
                                 {"repository", e.repository},
                                 {"detail", e.detail}};
    if (auto written = file_->append(json_text(line)); !written) {
      log::get("events")->error("{}", written.error().message);
    }
    std::vector<std::function<void(const nlohmann::json&)>> subscribers;
    {
      std::lock_guard lock(mu_);
      subscribers = subscribers_;
    }
    for (const auto& s : subscribers) s(line);
  } catch (const std::exception& ex) {
    log::get("events")->error("cannot publish {}: {}", e.type, ex.what());
  }
}

}  // namespace berth::observe
