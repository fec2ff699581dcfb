"""Convert a .docx to PDF with LibreOffice, updating the table of contents and every field.

``soffice --convert-to pdf`` leaves the TOC field as Word saved it (empty: python-docx cannot
lay out pages), so the PDF had no contents page. This script is run by
:func:`workbench.reports.services.to_pdf` with the system Python that has LibreOffice's UNO
bridge (Debian package ``python3-uno``), never imported by the workbench::

    /usr/bin/python3 lo_pdf.py SOFFICE PROFILE_DIR IN.docx OUT.pdf

It starts its own headless LibreOffice on a private pipe and profile (parallel runs do not
collide), loads the document hidden, updates every index twice (the contents page itself
moves the page numbers after it) and refreshes the fields, then exports to PDF.
Exit status 0: the PDF is written; otherwise the reason is on stderr.
"""

import contextlib
import os
import subprocess
import sys
import time
import uuid


def _prop(name, value):  # type: ignore[no-untyped-def]
    from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]

    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def _url(path):  # type: ignore[no-untyped-def]
    import uno  # type: ignore[import-not-found]

    return uno.systemPathToFileUrl(os.path.abspath(path))


def main(soffice, profile, source, target):  # type: ignore[no-untyped-def]
    import uno  # type: ignore[import-not-found]
    from com.sun.star.connection import NoConnectException  # type: ignore[import-not-found]

    pipe = f"wb_{uuid.uuid4().hex}"
    office = subprocess.Popen(
        [
            soffice,
            f"-env:UserInstallation={_url(profile)}",
            "--headless",
            "--invisible",
            "--nologo",
            "--norestore",
            "--nodefault",
            f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", local
        )
        context = None
        for _ in range(600):  # the caller's timeout ends a hung start
            try:
                context = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                break
            except NoConnectException:
                if office.poll() is not None:
                    sys.stderr.write("LibreOffice exited before accepting a connection\n")
                    return 2
                time.sleep(0.1)
        if context is None:
            sys.stderr.write("LibreOffice did not accept a connection\n")
            return 2
        desktop = context.ServiceManager.createInstanceWithContext(
            "com.sun.star.frame.Desktop", context
        )
        document = desktop.loadComponentFromURL(
            _url(source), "_blank", 0, (_prop("Hidden", True), _prop("ReadOnly", False))
        )
        if document is None:
            sys.stderr.write("LibreOffice could not open the document\n")
            return 3
        try:
            for _round in range(2):
                indexes = document.getDocumentIndexes()
                for i in range(indexes.getCount()):
                    indexes.getByIndex(i).update()
                document.getTextFields().refresh()
                document.refresh()
            document.storeToURL(_url(target), (_prop("FilterName", "writer_pdf_Export"),))
        finally:
            document.close(True)
        with contextlib.suppress(Exception):  # the bridge drops as LibreOffice quits
            desktop.terminate()
        return 0
    finally:
        try:
            office.wait(timeout=10)
        except subprocess.TimeoutExpired:
            office.kill()
            office.wait()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
