#include "consumers/kafka_metadata.h"

#include "core/concat.h"

namespace burnrate {

absl::StatusOr<int32_t> TopicPartitionCount(rd_kafka_t* rk, const std::string& topic,
                                            int timeout_ms) {
  rd_kafka_topic_t* handle = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (handle == nullptr)
    return absl::InvalidArgumentError(Concat("kafka topic ", topic, ": cannot be used"));
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, handle, &metadata, timeout_ms);
  rd_kafka_topic_destroy(handle);
  int32_t count = 0;
  if (!err) {
    if (metadata->topic_cnt != 1) {
      err = RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    } else {
      err = metadata->topics[0].err;
      count = metadata->topics[0].partition_cnt;
    }
  }
  if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
  if (err)
    return absl::UnavailableError(Concat("kafka topic ", topic, ": ", rd_kafka_err2str(err)));
  if (count <= 0)
    return absl::UnavailableError(Concat("kafka topic ", topic, ": no partitions (yet)"));
  return count;
}

}  // namespace burnrate
