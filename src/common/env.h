/*
 * env.h - the environment variables batsim's programs and scripts read,
 * one name per setting everywhere (README "Environment", each man page's
 * ENVIRONMENT section).  A command-line option wins over the variable,
 * which wins over the configuration file, which wins over the built-in
 * default.  Empty variables count as unset.
 */
#ifndef BATSIM_COMMON_ENV_H
#define BATSIM_COMMON_ENV_H

#define ENV_CONFIG         "BATSIM_CONFIG"         /* batsim.conf to read */
#define ENV_SHM            "BATSIM_SHM"            /* segment name, "/batsim" */
#define ENV_SHM_OLD        "BATSIM_SHM_NAME"       /* deprecated alias of it */
#define ENV_CONTROL_SOCKET "BATSIM_CONTROL_SOCKET" /* batsimd's socket */
#define ENV_LISTEN         "BATSIM_LISTEN"         /* batsim-httpd address */
#define ENV_MODBUS_LISTEN  "BATSIM_MODBUS_LISTEN"  /* batsim-modbusd address */

/* The value of variable `name`, or NULL when unset or empty. */
const char *env_get(const char *name);

/* BATSIM_SHM, else the deprecated BATSIM_SHM_NAME; NULL when neither. */
const char *env_shm(void);

/* The environment below the options, for the programs that read these
 * settings as pointers left NULL when no option gave them: *config
 * (BATSIM_CONFIG), *name (BATSIM_SHM, else BATSIM_SHM_NAME) and *sock
 * (BATSIM_CONTROL_SOCKET) get the variable's value when still NULL (and
 * stay NULL when it is unset).  listen_var (ENV_LISTEN, ENV_MODBUS_LISTEN,
 * or NULL: none) names the listening address: when no option gave one
 * (*n_listen == 0) and it is set, listen_arg[0] is its value and
 * *n_listen 1.  Any of config, name, sock may be NULL: not read. */
void env_apply(const char **config, const char **name, const char **sock,
	       const char *listen_var, const char **listen_arg,
	       unsigned *n_listen);

/* 1 when this process runs as a systemd service (INVOCATION_ID or
 * NOTIFY_SOCKET set), so that advice may name systemctl and the unit;
 * 0 when it was started by hand or by scripts/run-all. */
int env_under_systemd(void);

/* Advice for messages that ask the operator to start batsimd, in the way
 * this program was started: "start batsimd (systemctl start batsimd)"
 * under systemd, else "start batsimd (batsimd --config FILE)". */
const char *env_start_batsimd(void);

#endif /* BATSIM_COMMON_ENV_H */
