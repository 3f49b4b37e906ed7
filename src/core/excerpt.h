/*
 * excerpt.h
 *	  What a message may quote of a client's value: the value if short, else
 *	  its start and its size (excerpt.c).
 */
#ifndef PREFACTOR_EXCERPT_H
#define PREFACTOR_EXCERPT_H

extern char *prefactor_excerpt(const char *value);
extern char *prefactor_excerpt_len(const char *value, int len);

#endif
