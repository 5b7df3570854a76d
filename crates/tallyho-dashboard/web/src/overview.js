// The host overview: which charts, for each of tallyho-host's two namings. A panel is shown
// only when the registry has the family it `needs`.

const rename = (fn) => (metric) => fn(metric);

const OTEL = [
  {
    id: "host-cpu",
    title: "CPU by mode",
    subtitle: "share of all CPUs, idle left out",
    unit: "percent",
    needs: "system_cpu_time_seconds_total",
    queries: [
      {
        expr: 'sum by (state) (rate(system_cpu_time_seconds_total{state!="idle"}[$rate])) / scalar(count(count by (cpu) (system_cpu_time_seconds_total)))',
      },
    ],
  },
  {
    id: "host-memory",
    title: "Memory",
    subtitle: "by state, and the total",
    unit: "bytes",
    needs: "system_memory_usage_bytes",
    queries: [
      { expr: "sum by (state) (system_memory_usage_bytes)" },
      { expr: "sum(system_memory_limit_bytes)", name: "total" },
    ],
  },
  {
    id: "host-load",
    title: "Load average",
    subtitle: "runnable and waiting tasks",
    unit: "",
    needs: "system_cpu_load_average_1m",
    queries: [
      { expr: "sum(system_cpu_load_average_1m)", name: "1 min" },
      { expr: "sum(system_cpu_load_average_5m)", name: "5 min" },
      { expr: "sum(system_cpu_load_average_15m)", name: "15 min" },
    ],
  },
  {
    id: "host-disk",
    title: "Disk throughput",
    subtitle: "bytes read and written per second",
    unit: "bytes/s",
    needs: "system_disk_io_bytes_total",
    queries: [{ expr: "sum by (device, direction) (rate(system_disk_io_bytes_total[$rate]))" }],
  },
  {
    id: "host-network",
    title: "Network throughput",
    subtitle: "bytes received and sent per second",
    unit: "bytes/s",
    needs: "system_network_io_bytes_total",
    queries: [{ expr: "sum by (device, direction) (rate(system_network_io_bytes_total[$rate]))" }],
  },
  {
    id: "host-filesystems",
    title: "Filesystems filling up",
    subtitle: "space used, fullest first",
    unit: "percent",
    needs: "system_filesystem_usage_bytes",
    queries: [
      {
        expr: 'sum by (mountpoint) (system_filesystem_usage_bytes{state="used"}) / sum by (mountpoint) (system_filesystem_usage_bytes)',
      },
    ],
  },
  {
    id: "process-cpu",
    title: "This process: CPU",
    subtitle: "CPU seconds per second, by state",
    unit: "cores",
    needs: "process_cpu_time_seconds_total",
    queries: [{ expr: "sum by (state) (rate(process_cpu_time_seconds_total[$rate]))" }],
  },
  {
    id: "process-memory",
    title: "This process: memory",
    subtitle: "resident set size",
    unit: "bytes",
    needs: "process_memory_usage_bytes",
    queries: [{ expr: "sum(process_memory_usage_bytes)", name: "resident" }],
  },
];

const NODE = [
  {
    id: "host-cpu",
    title: "CPU by mode",
    subtitle: "share of all CPUs, idle left out",
    unit: "percent",
    needs: "node_cpu_seconds_total",
    queries: [
      {
        expr: 'sum by (mode) (rate(node_cpu_seconds_total{mode!="idle"}[$rate])) / scalar(count(count by (cpu) (node_cpu_seconds_total)))',
      },
    ],
  },
  {
    id: "host-memory",
    title: "Memory",
    subtitle: "used (total − available), available and total",
    unit: "bytes",
    needs: "node_memory_MemTotal_bytes",
    queries: [
      { expr: "sum(node_memory_MemTotal_bytes) - sum(node_memory_MemAvailable_bytes)", name: "used" },
      { expr: "sum(node_memory_MemAvailable_bytes)", name: "available" },
      { expr: "sum(node_memory_MemTotal_bytes)", name: "total" },
    ],
  },
  {
    id: "host-load",
    title: "Load average",
    subtitle: "runnable and waiting tasks",
    unit: "",
    needs: "node_load1",
    queries: [
      { expr: "sum(node_load1)", name: "1 min" },
      { expr: "sum(node_load5)", name: "5 min" },
      { expr: "sum(node_load15)", name: "15 min" },
    ],
  },
  {
    id: "host-disk",
    title: "Disk throughput",
    subtitle: "bytes read and written per second",
    unit: "bytes/s",
    needs: "node_disk_read_bytes_total",
    queries: [
      { expr: "sum by (device) (rate(node_disk_read_bytes_total[$rate]))", name: rename((m) => `${m.device} read`) },
      { expr: "sum by (device) (rate(node_disk_written_bytes_total[$rate]))", name: rename((m) => `${m.device} write`) },
    ],
  },
  {
    id: "host-network",
    title: "Network throughput",
    subtitle: "bytes received and sent per second",
    unit: "bytes/s",
    needs: "node_network_receive_bytes_total",
    queries: [
      { expr: "sum by (device) (rate(node_network_receive_bytes_total[$rate]))", name: rename((m) => `${m.device} receive`) },
      { expr: "sum by (device) (rate(node_network_transmit_bytes_total[$rate]))", name: rename((m) => `${m.device} transmit`) },
    ],
  },
  {
    id: "host-filesystems",
    title: "Filesystems filling up",
    subtitle: "space used, fullest first",
    unit: "percent",
    needs: "node_filesystem_size_bytes",
    queries: [
      {
        expr: "1 - sum by (mountpoint) (node_filesystem_avail_bytes) / sum by (mountpoint) (node_filesystem_size_bytes)",
      },
    ],
  },
  {
    id: "process-cpu",
    title: "This process: CPU",
    subtitle: "CPU seconds per second",
    unit: "cores",
    needs: "process_cpu_seconds_total",
    queries: [{ expr: "sum(rate(process_cpu_seconds_total[$rate]))", name: "cpu" }],
  },
  {
    id: "process-memory",
    title: "This process: memory",
    subtitle: "resident set size",
    unit: "bytes",
    needs: "process_resident_memory_bytes",
    queries: [{ expr: "sum(process_resident_memory_bytes)", name: "resident" }],
  },
];

const GPU = [
  {
    id: "gpu-utilization",
    title: "GPU utilization",
    subtitle: "share of time a kernel ran",
    unit: "percent",
    needs: "hw_gpu_utilization_ratio",
    queries: [{ expr: "max by (gpu) (hw_gpu_utilization_ratio)", name: rename((m) => `GPU ${m.gpu}`) }],
  },
  {
    id: "gpu-memory",
    title: "GPU memory",
    subtitle: "device memory in use",
    unit: "bytes",
    needs: "hw_gpu_memory_usage_bytes",
    queries: [{ expr: "max by (gpu) (hw_gpu_memory_usage_bytes)", name: rename((m) => `GPU ${m.gpu}`) }],
  },
];

/** The panels to show for a registry whose family names are `names` (a Set). */
export function hostPanels(names) {
  const naming = names.has("node_cpu_seconds_total") && !names.has("system_cpu_time_seconds_total")
    ? NODE
    : OTEL;
  return [...naming, ...GPU].filter((p) => names.has(p.needs));
}
