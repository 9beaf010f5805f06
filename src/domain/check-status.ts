/** A Consul health check's status; an instance's health is its worst check's. */
export type CheckStatus = 'passing' | 'warning' | 'critical';
