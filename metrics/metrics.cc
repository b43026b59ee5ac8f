#include "metrics/metrics.h"

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "app/version.h"
#include "core/concat.h"
#include "metrics/labels.h"

namespace burnrate {

Metrics::Metrics(const MetricsConfig& config, std::string_view revision)
    : registry_(std::make_shared<prometheus::Registry>()),
      engine_(std::make_unique<EngineProbe>(*registry_)),
      spend_(std::make_unique<SpendProbe>(*registry_, config)),
      alerts_(std::make_unique<AlertProbe>(*registry_)),
      quota_(std::make_unique<QuotaProbe>(*registry_)),
      redis_(std::make_unique<RedisProbe>(*registry_)) {
  prometheus::BuildGauge()
      .Name("burnrate_build_info")
      .Help("Always 1; its labels say which build is running.")
      .Register(*registry_)
      .Add({{"version", std::string(kVersion)},
            {"revision", SanitizeLabelValue(revision, config.max_label_bytes)}})
      .Set(1);
}

Metrics::~Metrics() = default;

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

HttpHandler MetricsHandler(const Metrics& metrics) {
  return [&metrics](const HttpRequest& request) {
    HttpResponse response;
    if (request.method != "GET" && request.method != "HEAD") {
      response.status = 405;
      response.headers.emplace_back("Allow", "GET, HEAD");
      response.body = "method not allowed\n";
      return response;
    }
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = metrics.Serialize();
    return response;
  };
}

HttpHandler HealthHandler() {
  return [](const HttpRequest&) {
    HttpResponse response;
    response.body = "ok\n";
    return response;
  };
}

HttpHandler ReadinessHandler(std::function<ReadyState()> state) {
  return [state = std::move(state)](const HttpRequest&) {
    const ReadyState s = state();
    HttpResponse response;
    response.content_type = "application/json";
    if (s.ready()) {
      response.body = "{\"ready\":true}\n";
      return response;
    }
    response.status = 503;
    std::string missing;
    if (!s.partitions_assigned) missing += "\"partitions_assigned\"";
    if (!s.redis_ok) missing += Concat(missing.empty() ? "" : ",", "\"redis\"");
    response.body = Concat("{\"ready\":false,\"missing\":[", missing, "]}\n");
    return response;
  };
}

}  // namespace burnrate
