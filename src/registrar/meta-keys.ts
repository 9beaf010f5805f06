/**
 * Service Meta keys Switchyard writes on every registration. The render role reads `color`; the
 * registrar finds what it owns through `switchyard_owner`. User metadata (SERVICE_FOO) never
 * overrides these.
 */
export const META_OWNER = 'switchyard_owner';
export const META_CONTAINER_ID = 'container_id';
export const META_CONTAINER_NAME = 'container_name';
export const META_COLOR = 'color';
export const META_IMAGE = 'image';
/** The image ID (sha256:…): a rebuilt tag has a new one, a second tag of the same image does not. */
export const META_IMAGE_ID = 'image_id';
/** SERVICE_VERSION, kept as user metadata: the live-color guard compares it. */
export const META_VERSION = 'version';

export const RESERVED_META_KEYS: ReadonlySet<string> = new Set([
  META_OWNER,
  META_CONTAINER_ID,
  META_CONTAINER_NAME,
  META_COLOR,
  META_IMAGE,
  META_IMAGE_ID,
]);

/** Suffix of the TTL check that mirrors a container's Docker HEALTHCHECK status. */
export const DOCKER_HEALTH_CHECK_SUFFIX = ':docker-health';
