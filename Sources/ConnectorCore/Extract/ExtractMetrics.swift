import Metrics

/// The extract's metrics (swift-metrics; the daemon exports them in Prometheus format).
enum ExtractMetrics {
    static let rows = Counter(label: "timbal_rows_extracted_total")
    static let batches = Counter(label: "timbal_batches_total")
    static let fetchLatency = Timer(label: "timbal_batch_fetch_seconds")
    static let writeLatency = Timer(label: "timbal_batch_write_seconds")
    static let lastBatch = Gauge(label: "timbal_last_batch_timestamp_seconds")
    static let retries = Counter(label: "timbal_source_retries_total")
    static let segments = Counter(label: "timbal_source_segments_total")
    static let mergedRows = Counter(label: "timbal_rows_merged_total")
}
