"""The daemon: composition root, workers, poller, the steps a file takes, watcher, files, notify."""
