// agentctl --help texts.
import type { CommandName } from './args.js';

export const CTL_USAGE = `Usage: agentctl [-c <config>] [-f table|json|yaml] [--debug] <command> [options]

Operator CLI of pg-ha-agent (the Patroni-compatible PostgreSQL HA agent). Reads the cluster from
etcd and acts through the members' REST APIs.

Commands:
  list [-e]                       members: host, role, state, timeline, lag, tags; pause and
                                  scheduled switchover below the table
  topology                        the same as a tree: leader, then the replicas under it
  switchover [--leader X] [--candidate Y] [--scheduled TIME [--wait]] [--force]
                                  planned switchover; shows each phase, the new leader and how
                                  long writes were unavailable
  switchover --cancel             cancel a scheduled switchover
  failover --candidate Y [--force]
                                  promote Y when there is no healthy leader
  pause [--wait] / resume [--wait]
                                  maintenance mode (no automatic action) on / off
  restart [MEMBER...] [--pending] [--role primary|replica] [--scheduled TIME] [--force]
  reinit MEMBER [--from-leader] [--wait] [--force]
  reload [MEMBER...] [--force]
  restart-agent MEMBER... | --all [--timeout SECONDS] [--force]
                                  restart the agent itself in place (upgrade): PostgreSQL keeps
                                  running, no failover; --all: one after the other, leader last
  history                         timeline history
  show-config                     the dynamic configuration in etcd
  edit-config [--set k=v]... [--pg name=v]... [--apply FILE|-] [--replace FILE|-] [--force]
                                  change it: shows the diff and asks (no flags: opens $EDITOR)
  remove SCOPE [--force]          delete every key of the cluster in etcd

Global options:
  -c, --config <file>   a node's config file or a small one with scope, namespace, etcd3,
                        restapi.authentication (and ctl.*); default $PGHA_CONFIG
  -f, --format <fmt>    table (default), json or yaml
      --debug           log etcd and HTTP details on stderr; stack traces on errors
  -h, --help            this help (agentctl <command> --help for one command)
  -V, --version         print the version

Exit codes: 0 success, 1 the action failed or was refused (the reason is printed),
2 usage or configuration error. See docs/agentctl.md.
`;

const COMMAND_HELP: Readonly<Record<CommandName, string>> = {
  list: `Usage: agentctl list [-e|--extended]
Members of the cluster as etcd shows them. --extended adds "Pending restart" and each member's
last decision (pg-ha-agent's "why").`,
  topology: 'Usage: agentctl topology\nThe members as a tree: the leader, then the replicas streaming from it (replicatefrom tags nest).',
  switchover: `Usage: agentctl switchover [--leader X] [--candidate Y] [--scheduled TIME [--wait]] [--force]
       agentctl switchover --cancel
Planned switchover (SPEC 5.6). Without --candidate the leader picks the best replica. The
candidate is checked first (running, streaming, lag within maximum_lag_on_failover); the leader
then runs CHECKPOINT, stops PostgreSQL cleanly, waits until the candidate has received the
shutdown checkpoint and hands over the leader key; the old leader follows without pg_rewind.
TIME: ISO 8601 (2026-05-01T03:00:00+02:00; no zone = local time), +30s / +5m / +1h, or now.
--wait (with --scheduled) stays until the switchover has happened and shows it.
--force: do not ask for confirmation.`,
  failover: `Usage: agentctl failover --candidate Y [--force]
Promote Y when the cluster has no healthy leader. Refused while the leader is healthy unless
--force (then it is a switchover to Y). Y must be running and within maximum_lag_on_failover.`,
  pause: 'Usage: agentctl pause [--wait]\nMaintenance mode: the agents keep reporting but take no automatic action. --wait: until every member reports it.',
  resume: 'Usage: agentctl resume [--wait]\nEnd maintenance mode. --wait: until every member reports it.',
  restart: `Usage: agentctl restart [MEMBER...] [--pending] [--role primary|replica] [--scheduled TIME]
                        [--pg-version X.Y] [--timeout SECONDS] [--force]
Restart PostgreSQL on the members (all when none is named). --pending: only where a restart is pending.`,
  reinit: 'Usage: agentctl reinit MEMBER [--from-leader] [--wait] [--force]\nSet the member\'s data directory aside and clone it again. --force also cancels a running task.',
  reload: 'Usage: agentctl reload [MEMBER...] [--force]\nReload the agents\' configuration files and PostgreSQL (all members when none is named).',
  'restart-agent': `Usage: agentctl restart-agent MEMBER... | --all [--timeout SECONDS] [--force]
Restart the agent process in place (to upgrade it or apply a setting such as restapi.listen):
PostgreSQL keeps running in its role, the leader keeps the leader key, the fence guard holds the
lease deadline until the new process re-attaches it. One member after the other, the leader last,
each waited for until its new process answers healthy (the leader: /primary 200). Needs systemd's
RestartForceExitStatus=75 (systemd/pg-ha-agent.service). --timeout: per member (default 60 s).
See docs/agent-restart.md.`,
  history: 'Usage: agentctl history\nThe timeline history: timeline, switch LSN, reason, time, new leader.',
  'show-config': 'Usage: agentctl show-config\nThe dynamic configuration (etcd `config` key), YAML by default.',
  'edit-config': `Usage: agentctl edit-config [--set key.path=value]... [--pg name=value]... [--apply FILE|-]
                            [--replace FILE|-] [--force]
Values are YAML (5 is a number, true a boolean, null or nothing deletes the key). --pg name=value
is --set postgresql.parameters.name=value. --apply merges a YAML file (JSON merge patch);
--replace replaces the whole configuration. Shows the diff and asks; --force does not ask.
Without any of them, opens $EDITOR (a terminal is needed).`,
  remove: `Usage: agentctl remove SCOPE [--force]
Delete every key of the cluster under <namespace><scope>/ in etcd. Asks to type the scope (and
the leader's name if the cluster has one); --force does not ask. Data directories are untouched.`,
};

export function commandHelp(command: CommandName): string {
  return `${COMMAND_HELP[command]}\n\nGlobal options: -c <config>, -f table|json|yaml, --debug. Exit codes: 0 ok, 1 failed/refused, 2 usage/config.\n`;
}
