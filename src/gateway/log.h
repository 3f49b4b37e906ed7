/*
 * The gateway's log: one line per event on stderr, with a UTC timestamp.
 * Never given a payload or a token.
 */
#ifndef PREFACTOR_GATEWAY_LOG_H
#define PREFACTOR_GATEWAY_LOG_H

void		gw_log(const char *fmt,...) __attribute__((format(printf, 1, 2)));

#endif
