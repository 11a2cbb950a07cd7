"""Hosts that correlation can never relate: each group of them is a problem of its own.

A fleet's bundle often holds several clusters: their VMs never move between them, and
nothing one cluster logs can change an attempt of another.  Correlating each group of hosts
on its own gives the same attempts, skews and diagnoses as correlating all at once (the
tests compare), and lets the groups run on different cores (``migdiag.api``).

Every step of correlation relates events across hosts only through a VM or a host an event
names, so hosts are grouped by what their events mention:

* a VM, by id or by name (segments of one VM on several hosts are paired, joined and give
  the skew estimates; a name stands for the id another event gives it);
* a host: the peer an event names (the destination 20413 names, the other host of an
  anonymous error) and the node a cluster 1641 moves the role to (both become an attempt's
  destination, whose anonymous events and context then count).

Ids and names are linked whenever one event gives both, in any order of the input, so the
grouping is never finer than what ``vm_keys`` relates; a coarser one only costs parallelism.
"""

from __future__ import annotations

from collections.abc import Sequence

from migdiag.correlate.facts import CLUSTER_MOVE
from migdiag.model import Event, short_host


def independent_groups(events: Sequence[Event]) -> list[list[Event]]:
    """``events`` split by groups of hosts that share no VM and name no host of another
    group, each group's events in their order in ``events``; groups in order of their first
    event there."""
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]  # path halving: the chains stay short
            node = parent[node]
        return node

    def join(a: str, b: str) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[ra] = rb

    # What the events mention, once per host and mention: a VM's events on one host repeat
    # the same few (the grouping took ~70 ms of a fleet event by event).  Tokens per kind,
    # so that a VM called like a host never joins it by accident (only parallelism lost).
    node = {host: "h:" + short_host(host) for host in {e.host for e in events}}
    for h in node.values():
        root(h)
    for host, token in {(e.host, e.vm_id) for e in events if e.vm_id}:
        join(node[host], "id:" + token)
    for host, token in {(e.host, e.vm_name.lower()) for e in events if e.vm_name}:
        join(node[host], "name:" + token)
    for host, token in {(e.host, e.peer_host) for e in events if e.peer_host}:
        join(node[host], "h:" + token)
    lowered = {provider: provider.lower() for provider in {e.provider for e in events}}
    moves = {
        (e.host, e.param(2)) for e in events if (lowered[e.provider], e.event_id) == CLUSTER_MOVE
    }
    for host, target in moves:
        if target:
            # As segments.py reads it, and as a host's own name is read: either way.
            join(node[host], "h:" + target.split(".")[0].upper())
            join(node[host], "h:" + short_host(target))
    group_of = {host: root(h) for host, h in node.items()}
    groups: dict[str, list[Event]] = {}
    for e in events:
        groups.setdefault(group_of[e.host], []).append(e)
    return list(groups.values())
