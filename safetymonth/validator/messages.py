"""The Chinese sentences a clerk reads: every message says what is wrong and what to do.

All wording lives here, so a bureau can review it in one place and tests can match the codes
rather than the prose; only what is said of one format (its label, the fix when a policy
refuses it) is registered with the format (``formats/registry``).
"""

from __future__ import annotations

# The kinds as a clerk names them (tables, replies), and as the start of a sentence.
KIND_NAMES = {"photo": "照片", "video": "视频", "document": "文档", "archive": "压缩包",
              "other": "文件"}
KIND_LABELS = {"photo": "照片", "video": "视频", "document": "总结材料", "archive": "压缩包"}
# Well-known sizes, named as cameras and phones name them.
VIDEO_SIZE_NAMES = {(1280, 720): "720P", (1920, 1080): "1080P", (3840, 2160): "4K"}
DEFAULT_FIXES = {"photo": "请转换为JPG后重新报送", "video": "请转换为MP4后重新报送",
                 "document": "请转换为DOCX或PDF后重新报送"}


def label(fmt: str | None) -> str:
    """How a clerk reads a format's name: its registered label (JPEG is "JPG")."""
    from safetymonth.validator.formats import registry  # the plugins import this module

    return registry.label(fmt)


def format_not_allowed(kind: str, fmt: str, allowed: list[str]) -> str:
    """The fix is the format's own where it registered one (HEIC: the iPhone setting), else
    its kind's."""
    from safetymonth.validator.formats import registry

    allowed_text = "、".join(label(name) for name in allowed)
    registered = registry.get(fmt)
    fix = registered.fix if registered and registered.fix else None
    fix = fix or DEFAULT_FIXES.get(kind, "请转换格式后重新报送")
    return f"{label(fmt)}格式不在允许范围内（{allowed_text}），{fix}"


def resolution_too_low(kind: str, width: int, height: int, long_side: int, short_side: int,
                       inclusive: bool) -> str:
    what = "照片" if kind == "photo" else "视频"
    size = f"{long_side}×{short_side}"
    shortfall = f"低于要求的{size}" if inclusive else f"要求高于{size}"
    if kind == "photo":
        return f"{what}分辨率为{width}×{height}，{shortfall}，请发送原图（微信请勾选“原图”）"
    named = VIDEO_SIZE_NAMES.get((long_side, short_side))
    size = f"{named}（{size}）" if named else size
    record = f"请以{size}或更高分辨率重新录制" if inclusive else f"请以高于{size}的分辨率重新录制"
    return f"{what}分辨率为{width}×{height}，{shortfall}，{record}，或发送原始视频文件"


def unsupported_type(name_hint: str, photo: list[str], video: list[str],
                     document: list[str]) -> str:
    def names(formats: list[str]) -> str:
        return "、".join(label(fmt) for fmt in formats)

    return (f"无法识别的文件类型{name_hint}，报送材料仅限照片（{names(photo)}）、"
            f"视频（{names(video)}）和总结（{names(document)}），请核对后重新报送")


def other_archive(fmt: str) -> str:
    return f"{fmt}格式的压缩包无法检查，请改用ZIP格式打包，或把文件直接作为附件发送"


def encrypted_document() -> str:
    return "文档设置了打开密码，无法检查，请去掉密码后重新发送"


def not_a_file() -> str:
    return "不是普通文件（可能是设备或管道），无法检查"


def corrupt(kind: str, detail: str) -> str:
    what = KIND_LABELS.get(kind, "")
    return f"{what}文件已损坏或不完整（{detail}），请重新导出或重新发送完整文件"


def unreadable(kind: str) -> str:
    what = KIND_LABELS.get(kind, "")
    return (f"{what}文件无法读取（检查时超出时间或内存限制，文件可能已损坏），"
            "请重新导出或重新发送完整文件")


def empty() -> str:
    return "文件为空（0字节），请重新添加附件后发送"


def too_large(size: int, limit: int) -> str:
    return (f"文件大小{human_size(size)}超过上限{human_size(limit)}，"
            "请压缩视频或分多封邮件发送")


def image_bomb(width: int, height: int, limit: int) -> str:
    return (f"图片声明尺寸{width}×{height}（{width * height // 1_000_000}百万像素）"
            f"超过安全上限{limit // 1_000_000}百万像素，未予解析，请发送正常拍摄的照片")


def unsafe_archive(detail: str) -> str:
    return f"压缩包不安全（{detail}），未予解压，请直接以附件发送照片和视频，或重新打包"


def extension_mismatch(extension: str, fmt: str) -> str:
    return f"文件扩展名为{extension}，实际内容为{label(fmt)}格式，已按实际格式检查"


def human_size(size: int) -> str:
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f}{unit}"
    return f"{size}字节"
