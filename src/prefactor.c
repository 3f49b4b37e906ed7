/*
 * prefactor.c
 *	  Module entry point of the prefactor extension.
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;
