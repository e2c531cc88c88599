import { Gauge, type Registry } from "prom-client";

/** A gauge whose value is read when it is scraped. */
export function readGauge(registry: Registry, name: string, help: string, read: () => number): Gauge {
  return new Gauge({
    name,
    help,
    registers: [registry],
    // prom-client calls collect() with the gauge as `this`.
    collect(this: Gauge) {
      this.set(read());
    },
  });
}
