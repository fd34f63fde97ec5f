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

void env_apply(const char **config, const char **name, const char **sock,
	       const char *listen_var, const char **listen_arg,
	       unsigned *n_listen)
{
	if (config && !*config)
		*config = env_get(ENV_CONFIG);
	if (name && !*name)
		*name = env_shm();
	if (sock && !*sock)
		*sock = env_get(ENV_CONTROL_SOCKET);
	if (listen_var && *n_listen == 0 && env_get(listen_var))
		listen_arg[(*n_listen)++] = env_get(listen_var);
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
