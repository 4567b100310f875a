#!/usr/bin/env bash
# A real single-node Slurm for the shard tests (test/scale/slurm-array.test.ts): Debian's packages,
# munge, a minimal slurm.conf (one node named after this host with CPUs=2, one partition, no
# accounting), slurmctld and slurmd in the background. Idempotent: a running cluster is kept.
# Exits non-zero (saying why) when the node does not come up idle within 60 s. Needs root.
set -euo pipefail

if command -v sinfo >/dev/null && sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
  echo "slurm: already up" >&2
  exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends slurmctld slurmd munge slurm-client >&2 \
    || { apt-get update >&2 && apt-get install -y --no-install-recommends slurmctld slurmd munge slurm-client >&2; }
fi

host=$(hostname -s)
conf_dir=/etc/slurm
mkdir -p "$conf_dir" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /var/lib/munge /var/log/munge
cat >"$conf_dir/slurm.conf" <<CONF
ClusterName=chainette-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerParameters=defer_batch
MaxArraySize=1001
NodeName=$host CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF

if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 700 /etc/munge && chmod 400 /etc/munge/munge.key
pgrep -x munged >/dev/null || munged --force >&2 || runuser -u munge -- munged --force >&2

pgrep -x slurmctld >/dev/null || (setsid slurmctld -D -i >/var/log/slurm/slurmctld.out 2>&1 &)
pgrep -x slurmd >/dev/null || (setsid slurmd -D >/var/log/slurm/slurmd.out 2>&1 &)

for _ in $(seq 1 60); do
  state=$(sinfo -h -n "$host" -o '%T' 2>/dev/null || true)
  if [ "$state" = "idle" ]; then
    echo "slurm: node $host idle" >&2
    exit 0
  fi
  # A node left down/drained by an earlier start comes back once slurmd registers.
  case "$state" in down*|drain*) scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;; esac
  sleep 1
done
echo "slurm: node $host did not become idle within 60 s (state: ${state:-none}); see /var/log/slurm/" >&2
exit 1
