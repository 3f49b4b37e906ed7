/*
 * account_access.h
 *	  The account boundary (doc/security.md): whether the calling role
 *	  (outside SECURITY DEFINER: session user or SET ROLE) is a superuser or
 *	  has the access level in the account, and the check that raises
 *	  insufficient_privilege.
 */
#ifndef PREFACTOR_ACCOUNT_ACCESS_H
#define PREFACTOR_ACCOUNT_ACCESS_H

#include "postgres.h"

#include "core/pfid.h"

extern bool prefactor_has_access(const Pfid *account, const char *level);
extern void prefactor_require_access(const Pfid *account, const char *level, const char *subject);
extern void prefactor_access_denied(const char *level, const char *subject) pg_attribute_noreturn();
extern uint64 prefactor_access_generation(void);
extern const Pfid *prefactor_owning_account(const Pfid *id, const char *what, const char *level);

#endif
