"""Convert .docx files to PDF with one LibreOffice start, under a uno-capable interpreter.

Run as a file by the interpreter that has python3-uno (pdf.py's ``uno_python()``, Debian's
``/usr/bin/python3``), never imported by the project: it imports nothing from safetymonth,
only ``uno``. Usage::

    python3 -I unoconvert.py SOFFICE PROFILE_DIR TIMEOUT SOURCE TARGET [SOURCE TARGET ...]

It starts ``soffice`` on a private pipe with the private profile, opens each source hidden,
switches off "apply spacing between Asian and non-Asian text" in the model (Writer's .docx
import ignores ``w:autoSpaceDE``/``w:autoSpaceDN``, so dates would read "2016 年 5 月"; the
same places autospace.py rewrites in a flat ODF), exports the PDF and closes it; then stops
LibreOffice. A failure is one line on stderr (LibreOffice's own message) and exit status 1;
exit status 3 says ``uno`` cannot be imported here.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

try:
    import uno
    from com.sun.star.beans import PropertyValue
    from com.sun.star.connection import NoConnectException
except ImportError:  # the caller falls back to its two-start conversion
    sys.stderr.write("this interpreter cannot import uno\n")
    sys.exit(3)

CONNECT_STEP = 0.05
# Beyond the caller's timeout, so that the caller's own timeout (and message) comes first.
GRACE = 5.0


def _properties(**values: object) -> tuple:
    found = []
    for name, value in values.items():
        item = PropertyValue()
        item.Name, item.Value = name, value
        found.append(item)
    return tuple(found)


def start(soffice: str, profile: Path, pipe: str) -> subprocess.Popen:
    """LibreOffice, listening on ``pipe``, with its own profile (not the user's open one)."""
    command = [soffice, "--headless", "--invisible", "--norestore", "--nologo",
               "--nodefault", "--nolockcheck", f"--accept=pipe,name={pipe};urp;",
               f"-env:UserInstallation={profile.as_uri()}"]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def connect(pipe: str, process: subprocess.Popen, deadline: float):
    """The component context of the LibreOffice on ``pipe``, asked every CONNECT_STEP until
    it answers (a fresh profile makes soffice restart itself once before it listens)."""
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local)
    url = f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext"
    while True:
        try:
            return resolver.resolve(url)
        except NoConnectException:
            if process.poll() is not None:
                raise RuntimeError(f"soffice exited with status {process.returncode} "
                                   "before it listened") from None
            if time.monotonic() > deadline:
                raise RuntimeError("LibreOffice did not start listening in time") from None
            time.sleep(CONNECT_STEP)


# The walk over a document's styles and paragraphs, run inside LibreOffice as an application
# Basic macro: over the bridge every property read is a round trip to LibreOffice's main
# thread (about 1.5 ms), some 400 of them a document; inside, the whole walk takes 30 ms.
# What it changes is what autospace.switch_off changes in a flat ODF: the defaults (text and
# drawing shapes), and every style or paragraph that says "space them" itself, except the
# paragraphs in table cells: our .docx says it once, in its docDefaults (oxml.py), so no
# paragraph holds a value of its own (none found in the notices, the letters or a 2,000-row
# summary), and walking the cells of a 2,000-row table took 6 s of a 28 s conversion.
BASIC_LIBRARY, BASIC_MODULE = "SafetyMonth", "Autospace"
BASIC = """
Const AUTOSPACE = "ParaIsCharacterDistance"
Function SwitchOff(oDoc As Object) As Long
    Dim n As Long, i As Long, oFamily As Object, oItem As Object
    oDoc.createInstance("com.sun.star.text.Defaults").setPropertyValue(AUTOSPACE, False)
    oItem = oDoc.createInstance("com.sun.star.drawing.Defaults")
    If oItem.getPropertySetInfo().hasPropertyByName(AUTOSPACE) Then
        oItem.setPropertyValue(AUTOSPACE, False)
    End If
    oFamily = oDoc.StyleFamilies.getByName("ParagraphStyles")
    For i = 0 To oFamily.getCount() - 1
        n = n + Unset(oFamily.getByIndex(i))
    Next i
    n = n + UnsetIn(oDoc.getText())
    oFamily = oDoc.getTextFrames()
    For i = 0 To oFamily.getCount() - 1
        n = n + UnsetIn(oFamily.getByIndex(i))
    Next i
    oFamily = oDoc.StyleFamilies.getByName("PageStyles")
    For i = 0 To oFamily.getCount() - 1
        oItem = oFamily.getByIndex(i)
        If oItem.HeaderIsOn Then
            n = n + UnsetIn(oItem.HeaderText) + UnsetIn(oItem.HeaderTextLeft) _
                + UnsetIn(oItem.HeaderTextFirst)
        End If
        If oItem.FooterIsOn Then
            n = n + UnsetIn(oItem.FooterText) + UnsetIn(oItem.FooterTextLeft) _
                + UnsetIn(oItem.FooterTextFirst)
        End If
    Next i
    SwitchOff = n
End Function

Function Unset(oItem As Object) As Long
    Unset = 0
    If oItem.getPropertyState(AUTOSPACE) = com.sun.star.beans.PropertyState.DIRECT_VALUE Then
        oItem.setPropertyValue(AUTOSPACE, False)
        Unset = 1
    End If
End Function

Function UnsetIn(oText) As Long
    Dim n As Long, oParagraphs As Object, oParagraph As Object
    UnsetIn = 0
    If IsNull(oText) Or IsEmpty(oText) Then Exit Function
    oParagraphs = oText.createEnumeration()
    Do While oParagraphs.hasMoreElements()
        oParagraph = oParagraphs.nextElement()
        If oParagraph.supportsService("com.sun.star.text.Paragraph") Then
            n = n + Unset(oParagraph)
        End If
    Loop
    UnsetIn = n
End Function
"""


def switch_off_macro(context):
    """The Basic walk installed in LibreOffice's (private, throw-away) application library."""
    manager = context.ServiceManager
    libraries = manager.createInstanceWithContext(
        "com.sun.star.script.ApplicationScriptLibraryContainer", context)
    if not libraries.hasByName(BASIC_LIBRARY):
        libraries.createLibrary(BASIC_LIBRARY)
    libraries.loadLibrary(BASIC_LIBRARY)  # a profile used before has it, not yet loaded
    library = libraries.getByName(BASIC_LIBRARY)
    if library.hasByName(BASIC_MODULE):
        library.removeByName(BASIC_MODULE)
    library.insertByName(BASIC_MODULE, BASIC)
    factory = context.getValueByName(
        "/singletons/com.sun.star.script.provider.theMasterScriptProviderFactory")
    return factory.createScriptProvider("").getScript(
        f"vnd.sun.star.script:{BASIC_LIBRARY}.{BASIC_MODULE}.SwitchOff"
        "?language=Basic&location=application")


def convert(desktop, switch_off, source: Path, target: Path) -> None:
    """One .docx to one PDF, the document closed whatever happens."""
    document = desktop.loadComponentFromURL(source.resolve().as_uri(), "_blank", 0,
                                            _properties(Hidden=True, ReadOnly=True))
    if document is None:
        raise RuntimeError("LibreOffice could not load it")
    try:
        switch_off.invoke((document,), (), ())
        document.storeToURL(target.resolve().as_uri(),
                            _properties(FilterName="writer_pdf_Export"))
    finally:
        document.close(True)


def stop(desktop, process: subprocess.Popen) -> None:
    """Ask LibreOffice to quit; the bridge drops as it does, which is not an error."""
    with contextlib.suppress(Exception):  # DisposedException: the pipe closed under the call
        desktop.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def main(arguments: list[str]) -> int:
    soffice, profile, timeout, *pairs = arguments
    deadline = time.monotonic() + float(timeout) + GRACE
    jobs = [(Path(pairs[index]), Path(pairs[index + 1])) for index in range(0, len(pairs), 2)]
    pipe = f"safetymonth-{os.getpid()}-{time.monotonic_ns()}"
    process = start(soffice, Path(profile), pipe)
    desktop, current = None, "LibreOffice"
    try:
        context = connect(pipe, process, deadline)
        desktop = context.ServiceManager.createInstanceWithContext(
            "com.sun.star.frame.Desktop", context)
        switch_off = switch_off_macro(context)
        for source, target in jobs:
            current = str(source)
            convert(desktop, switch_off, source, target)
    except Exception as error:  # reported to the caller, in LibreOffice's words
        message = getattr(error, "Message", "") or str(error) or type(error).__name__
        sys.stderr.write(f"{current}: {message.strip()}\n")
        return 1
    finally:
        if desktop is not None:
            stop(desktop, process)
        elif process.poll() is None:
            process.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
