// Is everything up and has it room: function containers (per push slot), their dependencies, the host.
import { colour, FRESH_SECONDS, fresh, perMinute, query, rate, shop, shopDashboard, stacked, timeSeries, units, upStat } from './panels.ts';

// Postgres's shared catalogue (datname "") and the templates are not the shop's.
const SHOP_DATABASES = 'datname!~"template[01]|"';

export const systemHealth = shopDashboard({
  uid: 'shop-system-health',
  title: 'Serverless shop / System health',
  description: 'Function containers by push slot (slots idle for two minutes are hidden), Redis, Postgres, scrape targets and the host.',
  tags: ['system'],
  bands: [
    {
      row: 'Functions',
      height: 8,
      panels: [
        timeSeries(
          { title: 'Live push slots by function', unit: units.Short, description: `Push groups written in the last ${FRESH_SECONDS} s, by function: about the number of warm containers.` },
          query(`count by (function) (time() - ${shop('push_time_seconds')} < ${FRESH_SECONDS})`, '{{function}}'),
        ),
        stacked(
          { title: 'Invocations by function and outcome', unit: units.OpsPerSecond, description: 'Invocations per second; error means a 5xx answer or a thrown error.' },
          query(`sum by (function, outcome) (${rate(shop('function_invocations_total'))})`, '{{function}} {{outcome}}'),
        ),
        timeSeries(
          { title: 'Cold starts by function', unit: units.CountsPerMinute, description: 'First invocations of a container, per minute: new containers for scale-out or after idle ones were reclaimed.' },
          query(perMinute(`sum by (function) (${rate(shop('function_cold_starts_total'))})`), '{{function}}'),
        ),
      ],
    },
    {
      height: 8,
      panels: [
        timeSeries(
          { title: 'Errors by component', unit: units.CountsPerMinute, description: 'Bugs and outages per minute (never caller mistakes), by component, type and severity.' },
          query(perMinute(`sum by (component, type, severity) (${rate(shop('errors_total'))})`), '{{component}} {{type}} ({{severity}})'),
        ),
        stacked(
          { title: 'Database pool connections by state', unit: units.Short, description: 'pg pool connections of live containers, summed: total, idle, and clients waiting for one (waiting > 0 means the pool is too small).' },
          query(`sum by (state) (${fresh(shop('db_pool_connections'))})`, '{{state}}'),
        ),
      ],
    },
    {
      row: 'Event delivery (outbox to EventBridge)',
      height: 8,
      panels: [
        timeSeries(
          { title: 'Events by delivery result', unit: units.CountsPerMinute, description: 'Outbox events per minute: published, failed (retried with backoff), skipped (no event bus configured).' },
          query(perMinute(`sum by (result) (${rate(shop('events_published_total'))})`), '{{result}}'),
        ).overrideByName('failed', colour('red')),
        // Not filtered on fresh slots: when the relay stops, its last backlog must stay in sight.
        timeSeries(
          { title: 'Outbox backlog', unit: units.Short, description: 'Events not yet published, by detail type, as counted at the end of the last relay run.' },
          query(`max by (detail_type) (${shop('outbox_pending_events')})`, '{{detail_type}}'),
        ),
        timeSeries(
          { title: 'Outbox delay', unit: units.Seconds, description: 'Age of the oldest unpublished event at the last relay run, and time since the relay (every minute) last pushed: a growing gap means the relay stopped.' },
          query(`max by (detail_type) (${shop('outbox_oldest_pending_event_age_seconds')})`, '{{detail_type}} oldest pending'),
          query(`time() - max(${shop('push_time_seconds', 'function=~".*relayOutbox"')})`, 'since last relay push'),
        ),
      ],
    },
    {
      row: 'Processes',
      height: 8,
      panels: [
        // A counter: through remote write it is summed per function (only gauges keep their instance), so the
        // panel shows what both delivery paths give alike.
        timeSeries(
          { title: 'CPU by function', unit: units.PercentUnit, description: 'CPU time used per second of wall time by all containers of each function together (1 = one core).' },
          query(`sum by (function) (${rate(shop('process_cpu_seconds_total'))})`, '{{function}}'),
        ),
        timeSeries({ title: 'Resident memory per slot', unit: units.BytesIEC, description: 'Resident memory of each live container; compare with the function\'s memory size in serverless.yml.' }, query(fresh(shop('process_resident_memory_bytes')), '{{instance}}')),
      ],
    },
    {
      height: 8,
      panels: [
        timeSeries({ title: 'Heap used per slot', unit: units.BytesIEC, description: 'V8 heap in use by each live container; a steady climb across invocations is a leak.' }, query(fresh(shop('nodejs_heap_size_used_bytes')), '{{instance}}')),
        timeSeries({ title: 'Uptime per slot', unit: units.Seconds, description: 'Age of the container holding each live slot; short ages under steady load mean containers are recycled.' }, query(fresh(`time() - ${shop('process_start_time_seconds')}`), '{{instance}}')),
      ],
    },
    {
      row: 'Dependencies',
      height: 4,
      widths: [12, 6, 6],
      panels: [
        upStat({ title: 'Scrape targets', description: 'Whether Prometheus could scrape each job (gateway, exporters, Alertmanager, itself).' }, query('min by (job) (up)', '{{job}}')),
        upStat({ title: 'Redis', description: 'Whether the Redis exporter reached Redis (catalogue cache and push slot leases).' }, query('min(redis_up)', 'redis')),
        upStat({ title: 'Postgres', description: 'Whether the Postgres exporter reached the database.' }, query('min(pg_up)', 'postgres')),
      ],
    },
    {
      height: 8,
      panels: [
        timeSeries({ title: 'Redis connected clients', unit: units.Short, description: 'Client connections to Redis: function containers, the janitor and the exporter.' }, query('redis_connected_clients', '{{instance}}')),
        timeSeries({ title: 'Redis memory used', unit: units.BytesIEC, description: 'Memory used by Redis (cached catalogue pages and slot states).' }, query('redis_memory_used_bytes', '{{instance}}')),
        timeSeries({ title: 'Redis commands', unit: units.OpsPerSecond, description: 'Commands processed by Redis per second.' }, query(rate('redis_commands_processed_total'), '{{instance}}')),
      ],
    },
    {
      height: 8,
      panels: [
        timeSeries(
          { title: 'Postgres connections by database', unit: units.Short, description: 'Backends connected to each database, against max_connections: every warm container holds up to DB_POOL_MAX.' },
          query(`sum by (datname) (pg_stat_database_numbackends{${SHOP_DATABASES}})`, '{{datname}}'),
          query('max(pg_settings_max_connections)', 'max_connections'),
        ),
        timeSeries(
          { title: 'Postgres transactions by database', unit: units.OpsPerSecond, description: 'Transactions committed and rolled back per second.' },
          query(`sum by (datname) (${rate(`pg_stat_database_xact_commit{${SHOP_DATABASES}}`)})`, '{{datname}} commits'),
          query(`sum by (datname) (${rate(`pg_stat_database_xact_rollback{${SHOP_DATABASES}}`)})`, '{{datname}} rollbacks'),
        ),
      ],
    },
    {
      row: 'Host',
      height: 8,
      panels: [
        timeSeries(
          { title: 'Load average (1 min)', unit: units.Short, description: 'Runnable and waiting tasks, against the number of CPUs.' },
          query('node_load1', '{{instance}} load'),
          query('count by (instance) (node_cpu_seconds_total{mode="idle"})', '{{instance}} CPUs'),
        ),
        timeSeries(
          { title: 'Host CPU busy', unit: units.PercentUnit, description: 'Share of CPU time not idle, all cores.' },
          query(`1 - avg by (instance) (${rate('node_cpu_seconds_total{mode="idle"}')})`, '{{instance}}'),
        ).max(1),
        timeSeries(
          { title: 'Host memory', unit: units.BytesIEC, description: 'Memory available to new work (page cache included), against the total.' },
          query('node_memory_MemAvailable_bytes', '{{instance}} available'),
          query('node_memory_MemTotal_bytes', '{{instance}} total'),
        ),
      ],
    },
  ],
});
