/**
 * A deployment color (blue, green, canary, …): a Consul tag or Meta value, a KV state field and a
 * config identifier, so one pattern keeps it safe everywhere it lands.
 */
export const COLOR_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
export const COLOR_RULE = 'a color is 1-32 of a-z, 0-9, _ and -, starting with a letter or digit';
