#!/bin/sh
# A single-node Slurm cluster for the Slurm tests: `slurm_cluster.sh start DIR` writes DIR/slurm.conf,
# starts munged, slurmctld and slurmd in the background and waits until the node takes jobs;
# `slurm_cluster.sh stop DIR` stops them by pid. Export SLURM_CONF=DIR/slurm.conf to use it.
# Needs root and Debian's slurm-wlm and munge.
set -eu
cmd=$1
dir=$(realpath -m "$2")
host=$(hostname -s)

stop() {
  for daemon in slurmd slurmctld munged; do
    if [ -f "$dir/$daemon.pid" ]; then
      pid=$(cat "$dir/$daemon.pid")
      kill "$pid" 2>/dev/null || true
      # Wait for it to go, so that a restart finds its ports free.
      i=0
      while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
      done
      rm -f "$dir/$daemon.pid"
    fi
  done
}

case "$cmd" in
start)
  stop
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge" /run/munge
  cpus=$(nproc)
  mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  cat >"$dir/slurm.conf" <<CONF
ClusterName=conveyor
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.log
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
MinJobAge=300
KillWait=5
InactiveLimit=0
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
CONF
  # Two GPUs, for --gres=gpu:N to be scheduled: Slurm drops a GPU without a device file, so two
  # empty files stand in for /dev/nvidia0 and /dev/nvidia1.
  touch "$dir/gpu0" "$dir/gpu1"
  echo "NodeName=$host Name=gpu File=$dir/gpu[0-1]" >"$dir/gres.conf"
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
  fi
  chown root:root /etc/munge/munge.key /run/munge
  chmod 0400 /etc/munge/munge.key
  munged --force --socket=/run/munge/munge.socket.2 --pid-file="$dir/munged.pid" \
    --log-file="$dir/munged.log" --seed-file="$dir/munge/seed"
  SLURM_CONF="$dir/slurm.conf" slurmctld -c
  SLURM_CONF="$dir/slurm.conf" slurmd
  i=0
  until SLURM_CONF="$dir/slurm.conf" sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; do
    i=$((i + 1))
    if [ $i -gt 300 ]; then
      echo "slurm_cluster: the node did not come up; logs in $dir" >&2
      SLURM_CONF="$dir/slurm.conf" sinfo >&2 || true
      tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
      exit 1
    fi
    sleep 0.1
  done
  ;;
stop) stop ;;
*)
  echo "usage: slurm_cluster.sh start|stop DIR" >&2
  exit 2
  ;;
esac
