/**
 * The configuration used when there is no nightshift.yml: patrol the machine
 * Nightshift runs on and talk on the console. It is YAML on purpose, so it
 * takes the same path (interpolation, validation) as a user's file.
 */
export const EMBEDDED_DEFAULT = `
patrol:
  interval: 10s
checks:
  - name: disk-data
    kind: disk
    severity: critical
    path: \${NIGHTSHIFT_DATA_DIR:-./data}
    minFreePercent: 5
  - name: memory
    kind: memory
    severity: optional
    minAvailablePercent: 5
  - name: self
    kind: self
    severity: critical
`;
