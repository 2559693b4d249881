"""Downloads that never hang: every download of emolib goes through :func:`_download`,
every "is the network there?" through :func:`_reachable`.

Both keep a **total deadline** over the steps that can stall without a word (DNS, the
TCP connect, TLS, the response headers): a silent host or resolver costs at most
``connect_timeout`` seconds. While the body streams, each read has its own
``read_timeout``, so a stalled server is detected while a large file on a slow link
still completes (the body as a whole has no total deadline). The file is written under
a hidden temporary name and renamed only when complete (and verified), so an
interrupted download never looks finished.

>>> from emolib import net
>>> net._reachable("http://127.0.0.1:9/", timeout=1.0)  # nothing listens on port 9
False
"""

from __future__ import annotations

import http.client
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from .fileio import atomic_path

__all__ = ["NetworkError"]


class NetworkError(OSError):
    """The network did not deliver within its deadline (or refused); the message
    says what was tried and, when the caller gave them, the manual steps."""


def _with_steps(message, manual_steps):
    return f"{message}\n\n{manual_steps}" if manual_steps else message


def _open_url(url, *, connect_timeout=5.0, read_timeout=30.0, method="GET", manual_steps=None):
    """Open a URL and return the response once its headers arrived.

    DNS, connect, TLS and the headers get ``connect_timeout`` seconds in all (in a daemon
    thread, so even a stalled resolver cannot hold the caller); each later read
    ``read_timeout`` seconds.

    Parameters
    ----------
    url : str
        The URL.
    connect_timeout : float, default 5.0
        Seconds for everything up to the response headers.
    read_timeout : float, default 30.0
        Seconds for each read of the body.
    method : str, default "GET"
        The HTTP method.
    manual_steps : str, optional
        What a user can do by hand, appended to an error's message.

    Returns
    -------
    http.client.HTTPResponse
        The open response.

    Raises
    ------
    NetworkError
        On a deadline passed, a refused connection, an unknown host or an HTTP error status.
    """
    result = {}

    def worker():
        try:
            request = urllib.request.Request(url, method=method, headers={"User-Agent": "emolib"})
            result["response"] = urllib.request.urlopen(request, timeout=max(connect_timeout, read_timeout))
        except BaseException as exc:  # handed to the caller's thread below
            result["error"] = exc

    thread = threading.Thread(target=worker, name=f"emolib-net {url}", daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(connect_timeout)
    if thread.is_alive():
        # The worker may still get a response later: close it then, so nothing leaks.
        def close_late():
            thread.join()
            if "response" in result:
                result["response"].close()

        threading.Thread(target=close_late, daemon=True).start()
        raise NetworkError(_with_steps(
            f"no answer from {url} within {connect_timeout:g} s (name lookup, connect and response "
            "headers together): offline, or the host is not responding", manual_steps))
    if "error" in result:
        exc = result["error"]
        if isinstance(exc, urllib.error.HTTPError):
            what = f"HTTP {exc.code} {exc.reason}"
        elif isinstance(exc, urllib.error.URLError):
            what = str(exc.reason)
        else:
            what = f"{type(exc).__name__}: {exc}"
        raise NetworkError(_with_steps(
            f"cannot download {url}: {what} (after {time.monotonic() - start:.1f} s)", manual_steps)) from exc
    response = result["response"]
    try:  # the body's reads: a stalled transfer raises instead of blocking for ever
        response.fp.raw._sock.settimeout(read_timeout)
    except AttributeError:
        pass
    return response


def _reachable(url, timeout=3.0) -> bool:
    """Whether a URL answers (any HTTP status counts) in time; never waits longer.

    Parameters
    ----------
    url : str
        The URL.
    timeout : float, default 3.0
        Seconds in all.

    Returns
    -------
    bool
        True when it answered.
    """
    try:
        _open_url(url, connect_timeout=timeout, read_timeout=timeout, method="HEAD").close()
        return True
    except NetworkError as exc:
        return isinstance(exc.__cause__, urllib.error.HTTPError)


def _download(url, path, *, connect_timeout=5.0, read_timeout=30.0, verify=None, manual_steps=None,
              progress=True):
    """Download a URL to a file; on any failure nothing is left behind.

    The body goes to a hidden temporary name beside ``path``, renamed only when the whole body
    arrived and ``verify(tmp_path)`` (if given) did not raise. The body has deadlines per read,
    no total deadline: a server that keeps sending a little within each ``read_timeout`` keeps
    the download going (as a large file on a slow link must); interrupt it by hand.

    Parameters
    ----------
    url : str
        The URL.
    path : str or pathlib.Path
        The file to write.
    connect_timeout : float, default 5.0
        Seconds for DNS, connect, TLS and the response headers together.
    read_timeout : float, default 30.0
        Seconds for each read of the body.
    verify : callable, optional
        ``verify(tmp_path)`` raises when the file is not the right one (e.g. a checksum).
    manual_steps : str, optional
        What a user can do by hand, appended to every error.
    progress : bool, default True
        Show a ``tqdm`` bar (bytes, rate, ETA) on stderr.

    Returns
    -------
    pathlib.Path
        ``Path(path)``.

    Raises
    ------
    NetworkError
        Offline, refused, an HTTP error, a stalled transfer, a short or broken body (a chunked
        body cut short included) or a ``Content-Length`` that is not a number.
    """
    path = Path(path)
    response = _open_url(url, connect_timeout=connect_timeout, read_timeout=read_timeout,
                        manual_steps=manual_steps)
    length = response.headers.get("Content-Length")
    if length is not None and not re.fullmatch(r"\s*[0-9]+\s*", length):
        response.close()
        raise NetworkError(_with_steps(
            f"cannot download {url}: the server sent Content-Length {length!r}, not a number of bytes",
            manual_steps))
    total, done = int(length or 0), 0
    with response, atomic_path(path, suffix=".part") as tmp, open(tmp, "wb") as out, \
            tqdm(total=total or None, unit="B", unit_scale=True, desc=f"{url} -> {path}", file=sys.stderr,
                 disable=not progress, mininterval=1.0) as shown:
        while True:
            try:
                chunk = response.read(1 << 20)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                raise NetworkError(_with_steps(
                    f"download of {url} stalled or broke after {done / 1e6:.1f} MB: {exc}", manual_steps)) from exc
            if not chunk:
                break
            out.write(chunk)
            done += len(chunk)
            shown.update(len(chunk))
        out.flush()
        os.fsync(out.fileno())
        if total and done != total:
            raise NetworkError(_with_steps(f"download of {url} is incomplete: {done} of {total} bytes", manual_steps))
        if verify is not None:
            verify(tmp)
    return path
