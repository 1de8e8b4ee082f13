// The parser lives with the configuration that reads ADMIN_WINDOW (config/ imports no capability).
export * from '../config/admin-window.ts'
