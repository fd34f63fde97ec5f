/*
 * test_env.c - env_apply(): the environment fills only what no option
 * gave (src/common/env.c; hand-written TAP).
 */
#include "config.h"

#include <stdlib.h>

#include "env.h"
#include "tap.h"

static void clear(void)
{
	unsetenv(ENV_CONFIG);
	unsetenv(ENV_SHM);
	unsetenv(ENV_SHM_OLD);
	unsetenv(ENV_CONTROL_SOCKET);
	unsetenv(ENV_LISTEN);
	unsetenv(ENV_MODBUS_LISTEN);
}

static int same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

int main(void)
{
	const char *config, *name, *sock, *listen_arg[2];
	unsigned n_listen;

	printf("1..16\n");
	clear();
	config = name = sock = NULL;
	n_listen = 0;
	env_apply(&config, &name, &sock, ENV_LISTEN, listen_arg, &n_listen);
	ok(!config && !name && !sock, "nothing set: nothing filled");
	ok(n_listen == 0, "nothing set: no listening address");

	setenv(ENV_CONFIG, "/etc/x.conf", 1);
	setenv(ENV_SHM, "/seg", 1);
	setenv(ENV_CONTROL_SOCKET, "/run/x.sock", 1);
	setenv(ENV_LISTEN, "127.0.0.1:0", 1);
	setenv(ENV_MODBUS_LISTEN, "127.0.0.1:502", 1);
	env_apply(&config, &name, &sock, ENV_LISTEN, listen_arg, &n_listen);
	ok(same(config, "/etc/x.conf"), "BATSIM_CONFIG fills config");
	ok(same(name, "/seg"), "BATSIM_SHM fills name");
	ok(same(sock, "/run/x.sock"), "BATSIM_CONTROL_SOCKET fills sock");
	ok(n_listen == 1 && same(listen_arg[0], "127.0.0.1:0"),
	   "BATSIM_LISTEN is the one listening address");

	config = "/opt.conf";
	name = "/opt";
	sock = "/opt.sock";
	listen_arg[0] = "[::1]:8080";
	n_listen = 1;
	env_apply(&config, &name, &sock, ENV_LISTEN, listen_arg, &n_listen);
	ok(same(config, "/opt.conf") && same(name, "/opt") &&
	       same(sock, "/opt.sock"),
	   "options win over the environment");
	ok(n_listen == 1 && same(listen_arg[0], "[::1]:8080"),
	   "a --listen option wins over BATSIM_LISTEN");

	config = name = sock = NULL;
	n_listen = 0;
	env_apply(&config, &name, &sock, ENV_MODBUS_LISTEN, listen_arg,
		  &n_listen);
	ok(n_listen == 1 && same(listen_arg[0], "127.0.0.1:502"),
	   "the listening variable is the caller's (BATSIM_MODBUS_LISTEN)");

	n_listen = 0;
	env_apply(NULL, NULL, NULL, NULL, NULL, &n_listen);
	ok(n_listen == 0, "no listening variable: no address");

	clear();
	setenv(ENV_SHM_OLD, "/old", 1);
	name = NULL;
	env_apply(NULL, &name, NULL, NULL, NULL, NULL);
	ok(same(name, "/old"), "BATSIM_SHM_NAME when BATSIM_SHM is unset");
	setenv(ENV_SHM, "/new", 1);
	name = NULL;
	env_apply(NULL, &name, NULL, NULL, NULL, NULL);
	ok(same(name, "/new"), "BATSIM_SHM wins over BATSIM_SHM_NAME");

	clear();
	setenv(ENV_CONFIG, "", 1);
	setenv(ENV_SHM, "", 1);
	setenv(ENV_CONTROL_SOCKET, "", 1);
	setenv(ENV_LISTEN, "", 1);
	config = name = sock = NULL;
	n_listen = 0;
	env_apply(&config, &name, &sock, ENV_LISTEN, listen_arg, &n_listen);
	ok(!config, "empty BATSIM_CONFIG counts as unset");
	ok(!name, "empty BATSIM_SHM counts as unset");
	ok(!sock, "empty BATSIM_CONTROL_SOCKET counts as unset");
	ok(n_listen == 0, "empty BATSIM_LISTEN counts as unset");
	return tap_done();
}
