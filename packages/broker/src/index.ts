export { startBroker, Broker } from './broker.js';
export { type BrokerOptions, DEFAULT_PORT } from './options.js';
export { hashPassword, verifyPassword, type UserConfig } from './auth.js';
export { createLogger } from './logger.js';
export { KvStore, type KvStoreOptions, type BucketInfo } from './kv/index.js';
export {
  Access,
  TAGS,
  type Tag,
  type PermissionKind,
  type Permissions,
  type PermissionInfo,
  type UserInfo,
  type UserChanges,
  type UserLimits,
} from './access.js';
export { DEFAULT_TLS_PORT, TlsCertificates, tlsOptionsFrom, type TlsConfig, type CertificateInfo, type ConnectionTls } from './tls.js';
export { Vhosts, DEFAULT_VHOST } from './vhosts.js';
export { VirtualHost, type VhostLimits } from './vhost.js';
export { HttpApi, DEFAULT_HTTP_PORT, type HttpContext, type HttpOptions, type RegisterRoutes } from './http/server.js';
export { Router, HttpReply, json, noContent, text, type ApiRequest, type Handler, type RouteAuth } from './http/router.js';
export { HttpUser } from './http/authz.js';
