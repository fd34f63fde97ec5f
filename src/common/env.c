/*
 * env.c - see env.h.
 */
#include <config.h>

#include <stdlib.h>

#include "env.h"

const char *env_get(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

const char *env_shm(void)
{
	const char *v = env_get(ENV_SHM);

	return v ? v : env_get(ENV_SHM_OLD);
}

int env_under_systemd(void)
{
	return env_get("INVOCATION_ID") || env_get("NOTIFY_SOCKET");
}

const char *env_start_batsimd(void)
{
	return env_under_systemd()
		   ? "start batsimd (systemctl start batsimd)"
		   : "start batsimd (batsimd --config FILE; scripts/run-all "
		     "starts everything from a source tree)";
}
