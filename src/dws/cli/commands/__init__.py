"""One module per verb; COMMANDS lists them for registration."""

from __future__ import annotations

from dws.cli.commands.add import add
from dws.cli.commands.cat import cat
from dws.cli.commands.clean import clean
from dws.cli.commands.clone import clone
from dws.cli.commands.delete_snapshot import delete_snapshot
from dws.cli.commands.diff import diff
from dws.cli.commands.fsck import fsck
from dws.cli.commands.gc import gc
from dws.cli.commands.get import get
from dws.cli.commands.history import history, log
from dws.cli.commands.init import init
from dws.cli.commands.lineage import lineage
from dws.cli.commands.ls import ls
from dws.cli.commands.pull import pull
from dws.cli.commands.push import push
from dws.cli.commands.recover import recover
from dws.cli.commands.remote import remote
from dws.cli.commands.remove import remove
from dws.cli.commands.rerun import rerun
from dws.cli.commands.resources import resources
from dws.cli.commands.restore import restore
from dws.cli.commands.results import results
from dws.cli.commands.run import run
from dws.cli.commands.show import show
from dws.cli.commands.snapshot import snapshot
from dws.cli.commands.status import status
from dws.cli.commands.swap import swap
from dws.cli.commands.tag import tag

COMMANDS = [
    init,
    add,
    remove,
    resources,
    status,
    snapshot,
    restore,
    recover,
    history,
    log,
    show,
    diff,
    ls,
    cat,
    get,
    results,
    tag,
    delete_snapshot,
    gc,
    fsck,
    run,
    lineage,
    swap,
    clean,
    rerun,
    remote,
    push,
    pull,
    clone,
]
