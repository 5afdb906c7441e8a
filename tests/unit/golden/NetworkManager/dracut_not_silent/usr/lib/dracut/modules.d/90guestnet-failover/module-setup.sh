#!/usr/bin/env bash
# Managed by guestnet.failover (failover_config); do not edit, changes will be overwritten.
# Copy the failover udev rules and .link files into the initramfs.
check() {
    return 0
}
depends() {
    echo "udev-rules"
    return 0
}
install() {
    local file
    for file in /etc/systemd/network/10-guestnet-failover-bond0pv.link /etc/systemd/network/10-guestnet-failover-bond0vf.link /etc/udev/rules.d/81-guestnet-failover.rules; do
        [ -e "$file" ] && inst_simple "$file"
    done
    # initdir is dracut's staging directory
    # shellcheck disable=SC2154
    mkdir -p "${initdir}/etc" && printf '%s\n' 'initramfs files of guestnet.failover (its dracut module): udev rules and .link files' 'sha256 5f478530973e423535fab63374b7645d07fc4e78a286123ca6ee801c26fb28c9' > "${initdir}/etc/guestnet-failover.initramfs"
    return 0
}
