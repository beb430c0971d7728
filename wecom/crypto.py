"""WeCom callback crypto: verify, decrypt and encrypt, wrapping wechatpy's enterprise `WeChatCrypto`.

wechatpy does the AES and the SHA-1 signature; this module adds what it leaves to the caller:
the outer XML envelope is parsed with defusedxml (wechatpy would hand it to xmltodict), both of
wechatpy's exceptions are caught on GET and POST alike (a wrong corp id is not a signature error in
wechatpy's hierarchy, see docs/PROTOCOL.md), and every failure becomes one `CallbackRejected` with the HTTP
status and a short reason the web layer can answer with.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy.crypto import _get_signature
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException


class CallbackRejected(Exception):
    """A callback the service must refuse, with the status and a reason safe to show the sender."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_xml(data: bytes | str):  # -> xml.etree.ElementTree.Element
    """Parse untrusted XML: DTDs, entities and external references are refused, not expanded."""
    try:
        return fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise CallbackRejected(400, f"forbidden XML construct: {type(exc).__name__}") from exc
    except (ParseError, ValueError) as exc:
        raise CallbackRejected(400, "malformed XML") from exc


@dataclass(frozen=True)
class CallbackCrypto:
    """The crypto of one app: its Token, EncodingAESKey and the corp id it must decrypt to."""

    token: str
    aes_key: str
    corp_id: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "_crypto", WeChatCrypto(self.token, self.aes_key, self.corp_id))

    def verify_url(self, signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """Answer WeCom's URL verification: the decrypted echostr, exactly."""
        try:
            return self._crypto.check_signature(signature, timestamp, nonce, echostr)
        except InvalidSignatureException as exc:
            raise CallbackRejected(403, "bad signature") from exc
        except InvalidCorpIdException as exc:
            raise CallbackRejected(403, "wrong corp id") from exc
        except Exception as exc:  # base64/AES/length errors inside wechatpy on a signed but bad echostr
            raise CallbackRejected(400, "undecryptable echostr") from exc

    def decrypt(self, body: bytes, signature: str, timestamp: str, nonce: str) -> str:
        """Verify and decrypt a POSTed envelope; returns the plaintext XML."""
        envelope = parse_xml(body)
        encrypt = envelope.findtext("Encrypt")
        if not encrypt:
            raise CallbackRejected(400, "no Encrypt element")
        try:
            return self._crypto.decrypt_message({"Encrypt": encrypt}, signature, timestamp, nonce)
        except InvalidSignatureException as exc:
            raise CallbackRejected(403, "bad signature") from exc
        except InvalidCorpIdException as exc:
            raise CallbackRejected(403, "wrong corp id") from exc
        except Exception as exc:
            raise CallbackRejected(400, "undecryptable message") from exc

    def encrypt_reply(self, plaintext: str, nonce: str, timestamp: str | None = None) -> str:
        """A passive reply envelope (Encrypt, MsgSignature, TimeStamp, Nonce), as WeCom expects it."""
        return self._crypto.encrypt_message(plaintext, nonce, timestamp or str(int(time.time())))

    def encrypt_callback(
        self, plaintext: str, nonce: str, timestamp: str, agent_id: int | None = None
    ) -> tuple[bytes, str]:
        """What WeCom itself would POST for `plaintext`: the envelope body and its msg_signature."""
        from wechatpy.enterprise.crypto import PrpCrypto

        encrypt = PrpCrypto(self._crypto.key).encrypt(plaintext, self.corp_id).decode()
        signature = _get_signature(self.token, timestamp, nonce, encrypt)
        agent = f"<AgentID><![CDATA[{agent_id}]]></AgentID>" if agent_id is not None else ""
        body = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt>{agent}</xml>"
        )
        return body.encode(), signature

    def sign(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return _get_signature(self.token, timestamp, nonce, encrypt)
