/*
 * resolve.h
 *	  Names and ids as clients give them (resolve.c): the account, checked
 *	  for the caller's access, and an agent or environment of the account.
 */
#ifndef PREFACTOR_RESOLVE_H
#define PREFACTOR_RESOLVE_H

#include "postgres.h"

#include "core/pfid.h"

extern void prefactor_resolve_account(const char *account, const char *level, Pfid *found);
extern void prefactor_resolve_agent(const Pfid *account, const char *agent, Pfid *found);
extern void prefactor_resolve_environment(const Pfid *account, const char *environment, Pfid *found);
extern void prefactor_not_found(const char *what, const char *value, const char *hint) pg_attribute_noreturn();

#endif
