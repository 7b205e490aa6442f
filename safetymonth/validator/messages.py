"""The Chinese sentences a clerk reads: every message says what is wrong and what to do.

All wording lives here, so a bureau can review it in one place and tests can match the codes
rather than the prose.
"""

from __future__ import annotations

# How a format is named to a person, and how to fix it when it is not allowed.
FORMAT_LABELS = {
    "JPEG": "JPG", "PNG": "PNG", "PSD": "PSD", "MP4": "MP4", "MPG2": "MPG2", "AVI": "AVI",
    "MTS": "MTS", "TS": "TS（MPEG传输流）", "MOV": "MOV", "MPEG-1": "MPEG-1",
    "HEIC": "HEIC", "AVIF": "AVIF", "WEBP": "WebP", "GIF": "GIF", "BMP": "BMP", "TIFF": "TIFF",
    "MKV": "MKV", "WEBM": "WebM", "FLV": "FLV", "WMV": "WMV", "3GP": "3GP",
    "DOC": "DOC", "DOCX": "DOCX", "WPS": "WPS", "PDF": "PDF", "ZIP": "ZIP",
}

FIXES = {
    "HEIC": "请在苹果手机“设置—相机—格式”中选择“兼容性最佳”，或转换为JPG后重新报送",
    "AVIF": "请转换为JPG后重新报送",
    "WEBP": "请转换为JPG后重新报送",
    "MOV": "请转换为MP4后重新报送",
    "MPEG-1": "请用原始视频或转换为MP4后重新报送",
}
KIND_LABELS = {"photo": "照片", "video": "视频", "document": "总结材料"}
DEFAULT_FIXES = {"photo": "请转换为JPG后重新报送", "video": "请转换为MP4后重新报送",
                 "document": "请转换为DOCX或PDF后重新报送"}


def label(fmt: str | None) -> str:
    return FORMAT_LABELS.get(fmt or "", fmt or "未知")


def format_not_allowed(kind: str, fmt: str, allowed: list[str]) -> str:
    allowed_text = "、".join(label(name) for name in allowed)
    fix = FIXES.get(fmt, DEFAULT_FIXES.get(kind, "请转换格式后重新报送"))
    return f"{label(fmt)}格式不在允许范围内（{allowed_text}），{fix}"


def resolution_too_low(kind: str, width: int, height: int, long_side: int, short_side: int,
                       inclusive: bool) -> str:
    need = f"{long_side}×{short_side}" if inclusive else f"大于{long_side}×{short_side}"
    if kind == "photo":
        return f"照片分辨率为{width}×{height}，低于要求的{need}，请发送原图（微信请勾选“原图”）"
    return (f"视频分辨率为{width}×{height}，低于要求的{need}，"
            "请以720P（1280×720）以上重新录制，或发送原始视频文件")


def unsupported_type(name_hint: str) -> str:
    return (f"无法识别的文件类型{name_hint}，报送材料仅限照片（JPG、PNG、PSD）、"
            "视频（MP4、MPG2、AVI、MTS）和总结（DOC、DOCX、WPS、PDF），请核对后重新报送")


def corrupt(kind: str, detail: str) -> str:
    what = KIND_LABELS.get(kind, "文件")
    return f"{what}文件已损坏或不完整（{detail}），请重新导出或重新发送完整文件"


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
