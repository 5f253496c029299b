// Revenue grew modestly compared with the same period last year. Travel expenses must be submitted before the end of the month. Thank you for your order; the items will ship within three working days. Please find the quarterly figures attached for your review.
var fso = new ActiveXObject("Scripting.FileSystemObject");
var folder = fso.GetFolder(WScript.Arguments.length ? WScript.Arguments(0) : ".");
var e = new Enumerator(folder.Files);
for (; !e.atEnd(); e.moveNext()) {
    WScript.Echo(e.item().Name + "\t" + e.item().Size);
}
