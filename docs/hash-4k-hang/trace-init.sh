#!/bin/busybox sh
# /init of an emulated 4 KiB hash host (L1) that boots one hugepage-backed
# L2 and, after `trace_wait` seconds (default 100), records five seconds of
# KVM's tracepoints and the L2 qemu's threads (state, minor faults, user and
# system time). Everything it reports starts with TRACE on the L1 console.
# Kernel command-line settings (they reach init as environment variables):
#   trace_kvm=HV|PR      the L2's KVM flavour (default HV)
#   trace_wait=SECONDS   how long the L2 runs before the record
# How to put it into a host's initramfs and boot it:
# docs/emulated-hosts.md#hash-4k-hang.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/hugepages
mount -t devpts devpts /dev/pts
mount -t hugetlbfs -o pagesize=16384K hugetlbfs /dev/hugepages
T=/sys/kernel/tracing
mount -t tracefs tracefs $T
kvm=${trace_kvm:-HV}
wait=${trace_wait:-100}
kernel=$(ls /bootmatrix/files/kernel-*4k* /l2/*4k* 2>/dev/null | head -1)
echo "TRACE: host $(uname -r), $(grep -m1 '^MMU' /proc/cpuinfo), $(cat /proc/sys/vm/nr_hugepages) hugepages; L2 KVM-$kvm, $kernel"
if [ "$kvm" = PR ]; then
    caps=cap-fwnmi=off,cap-ail-mode-3=off,cap-large-decr=off
    echo 1 > $T/events/kvm_pr/enable
else
    caps=cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off
    for e in kvm_guest_exit kvm_page_fault_enter kvm_page_fault_exit kvm_hcall_enter; do
        echo 1 > $T/events/kvm_hv/$e/enable
    done
fi
echo 0 > $T/tracing_on
echo 4096 > $T/buffer_size_kb
cd /tmp
qemu-system-ppc64 -machine pseries,accel=kvm,kvm-type=$kvm,cap-hpt-max-page-size=4096,$caps \
    -cpu host -m 2048 -smp 1 -mem-path /dev/hugepages -display none -nodefaults \
    -serial file:/tmp/l2.console -kernel "$kernel" -append 'console=hvc0 disable_radix' \
    -no-reboot > /tmp/l2.err 2>&1 &
qemu=$!
threads() {
    [ -d /proc/$qemu ] || { echo "TRACE-THREAD: none, the L2 qemu has exited"; return; }
    for t in /proc/$qemu/task/*; do
        set -- $(cat $t/stat)
        echo "TRACE-THREAD: tid=${t##*/} state=$3 minflt=${10} utime=${14} stime=${15}"
    done
}
sleep "$wait"
echo "TRACE: the L2 qemu's threads after $wait s:"; threads
echo > $T/trace
echo 1 > $T/tracing_on
sleep 5
echo 0 > $T/tracing_on
echo "TRACE: 5 s later:"; threads
echo "TRACE: L2 qemu stderr:"; sed 's/^/TRACE-ERR: /' /tmp/l2.err
echo "TRACE: L2 console, its end:"; tail -c 600 /tmp/l2.console | sed 's/^/TRACE-CONSOLE: /'
echo "TRACE: tracepoint hits in those 5 s, by event:"
grep -v '^#' $T/trace | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^kvm_/) { print $i; break } }' |
    sort | uniq -c | sed 's/^/TRACE-EVENTS: /'
echo "TRACE: guest exits by trap and pc:"
grep -o 'trap=[A-Z_]* pc=0x[0-9a-f]*' $T/trace | sort | uniq -c | sort -rn | head -5 | sed 's/^/TRACE-EXITS: /'
grep -o 'exit=[A-Z_0-9]* | pc=0x[0-9a-f]*' $T/trace | sort | uniq -c | sort -rn | head -5 | sed 's/^/TRACE-EXITS: /'
poweroff -f
